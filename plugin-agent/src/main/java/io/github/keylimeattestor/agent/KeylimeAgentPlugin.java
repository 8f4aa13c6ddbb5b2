package io.github.keylimeattestor.agent;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.Challenge;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.NodeAttestorGrpc;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.PayloadOrChallengeResponse;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.sdk.BuildInfo;
import io.github.keylimeattestor.sdk.Observers;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.util.List;

/**
 * Agent-side NodeAttestor "keylime": at every (re-)attestation it sends the Keylime agent UUID and
 * the App Key public area, then answers the server's challenge with a SovereignAttestation (Keylime
 * AK quote + App Key certification, both bound to the challenge nonce).
 */
final class KeylimeAgentPlugin extends NodeAttestorGrpc.NodeAttestorImplBase implements Plugin {
  private final Log log = Log.named("keylime.agent");
  private final TpmAccess tpmAccess = new TpmAccess();
  private volatile AgentConfig config;
  private volatile KeylimeAgentClients agentClients = new KeylimeAgentClients();
  private volatile AgentMetrics metrics = new AgentMetrics(java.util.Optional.empty());

  KeylimeAgentPlugin() {}

  /** With these metrics instead of those of {@link #init}'s host services (tests). */
  KeylimeAgentPlugin(AgentMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public String name() {
    return "keylime";
  }

  @Override
  public ServerServiceDefinition nodeAttestor() {
    return bindService();
  }

  @Override
  public void init(io.github.keylimeattestor.sdk.HostServices hostServices) {
    metrics = new AgentMetrics(hostServices.metrics());
  }

  @Override
  public void configure(CoreConfiguration core, String hcl) throws StatusException {
    AgentConfig c;
    try {
      c = AgentConfig.parse(hcl);
    } catch (HclException e) {
      throw Status.INVALID_ARGUMENT.withDescription("keylime plugin_data: " + e.getMessage()).asException();
    }
    agentClients = new KeylimeAgentClients();
    config = c;
    for (String w : c.warnings()) {
      log.warn(w);
    }
    BuildInfo build = BuildInfo.current();
    log.info("configured", "version", build.version(), "commit", build.commit(), "trust_domain", core.getTrustDomain(),
        "tpm", c.tpmDescription(),
        "quote_source", c.quoteSource().name().toLowerCase(java.util.Locale.ROOT),
        "agent_data_path", c.agentDataPath().toString(), "app_key_path", c.appKeyPath().toString(),
        "svid_key_directory", c.svidKeyDirectory().map(Object::toString).orElse(""));
  }

  @Override
  public void trainOffline() throws Exception {
    CdsTraining.run();
  }

  /** The Keylime agent client kept across this configuration's attestations. */
  KeylimeAgentClients agentClients() {
    return agentClients;
  }

  @Override
  public Validation validate(CoreConfiguration core, String hcl) {
    try {
      return Validation.ok(AgentConfig.parse(hcl).warnings());
    } catch (HclException e) {
      return Validation.invalid(e.problems().stream().map(p -> "keylime plugin_data: " + p).toList());
    }
  }

  @Override
  public StreamObserver<Challenge> aidAttestation(StreamObserver<PayloadOrChallengeResponse> out) {
    AgentConfig c = config;
    if (c == null) {
      return fail(out, Status.FAILED_PRECONDITION.withDescription("the keylime node attestor is not configured")
          .asException());
    }
    Attestation attestation = new Attestation(c, tpmAccess, agentClients);
    try {
      long t0 = System.nanoTime();
      byte[] payload = attestation.payload();
      long took = System.nanoTime() - t0;
      out.onNext(PayloadOrChallengeResponse.newBuilder().setPayload(ByteString.copyFrom(payload)).build());
      // Metrics after the answer: each is a call to spire-agent's Metrics host service, about 1.5 ms
      // of CPU while the JIT is cold, and SPIRE need not wait for them.
      metrics.tpm("payload", took);
    } catch (AttestationFailure e) {
      StreamObserver<Challenge> ended = fail(out, failed("payload", e));
      metrics.outcome("payload", e.code().name());
      return ended;
    } catch (RuntimeException e) {
      StreamObserver<Challenge> ended = fail(out, bug("payload", e));
      metrics.outcome("payload", "error");
      return ended;
    }
    return new ChallengeObserver(attestation, out);
  }

  private final class ChallengeObserver implements StreamObserver<Challenge> {
    private final Attestation attestation;
    private final StreamObserver<PayloadOrChallengeResponse> out;
    private boolean finished;

    ChallengeObserver(Attestation attestation, StreamObserver<PayloadOrChallengeResponse> out) {
      this.attestation = attestation;
      this.out = out;
    }

    @Override
    public synchronized void onNext(Challenge challenge) {
      if (finished) {
        return;
      }
      try {
        long t0 = System.nanoTime();
        byte[] answer = attestation.answer(challenge.getChallenge().toByteArray());
        long took = System.nanoTime() - t0;
        out.onNext(PayloadOrChallengeResponse.newBuilder().setChallengeResponse(ByteString.copyFrom(answer)).build());
        metrics.tpm("challenge", took);
        metrics.outcome("challenge", "ok");
        log.info("answered the attestation challenge", "keylime_agent_uuid", attestation.agentId().value());
      } catch (AttestationFailure e) {
        finish(failed("challenge", e));
        metrics.outcome("challenge", e.code().name());
      } catch (RuntimeException e) {
        finish(bug("challenge", e));
        metrics.outcome("challenge", "error");
      }
    }

    @Override
    public synchronized void onError(Throwable t) {
      finished = true;
      log.debug("attestation stream ended by SPIRE", "status", Status.fromThrowable(t).toString());
    }

    @Override
    public synchronized void onCompleted() {
      if (!finished) {
        finished = true;
        safely(out::onCompleted);
      }
    }

    private void finish(StatusException e) {
      finished = true;
      safely(() -> out.onError(e));
    }
  }

  // failed and bug log; the caller counts the outcome after the error has gone to SPIRE (as with the answers)
  private StatusException failed(String phase, AttestationFailure e) {
    log.warn("attestation failed", "phase", phase, "code", e.code().name(), "error", e.getMessage());
    return e.toStatus();
  }

  private StatusException bug(String phase, RuntimeException e) {
    log.error("attestation failed (bug)", "phase", phase, "error", String.valueOf(e));
    return Status.INTERNAL.withDescription("keylime agent plugin bug during " + phase + ": " + e).asException();
  }

  /** Ends the stream with an error and ignores whatever SPIRE still sends on it. */
  private static StreamObserver<Challenge> fail(StreamObserver<PayloadOrChallengeResponse> out, StatusException e) {
    safely(() -> out.onError(e));
    return Observers.ignoring();
  }

  /** A call SPIRE already cancelled rejects further messages; that must not reach gRPC's thread. */
  private static void safely(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException ignored) {
      // the stream is gone; nothing left to tell SPIRE
    }
  }
}
