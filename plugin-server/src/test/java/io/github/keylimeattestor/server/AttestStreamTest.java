package io.github.keylimeattestor.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.IdentityVerification;
import io.github.keylimeattestor.keylime.Json;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.RegistrarAgent;
import io.github.keylimeattestor.keylime.KeylimeApiException;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.TpmPublicArea;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.proto.sovereign.AppKeyCertificate;
import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.AddSampleRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.IncrCounterRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.MetricsGrpc;
import io.github.keylimeattestor.sdk.HostServices;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestRequest;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestResponse;
import io.github.keylimeattestor.sovereign.AppKeyBinding;
import io.github.keylimeattestor.sovereign.ClockHistory;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.github.keylimeattestor.sovereign.KeylimeAgentId;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The server's Attest stream end to end inside one JVM: real evidence from swtpm, and Keylime's
 * answers chosen by the test. This stands in for Keylime only to inject what a real verifier cannot
 * be made to say on demand (a late answer, an "invalid" second opinion); the real-Keylime paths
 * are KeylimeEndToEndIT's.
 */
class AttestStreamTest {
  static final String UUID = "0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10";
  static TestPki pki;
  static Swtpm swtpm;
  static KeylimeTpm tpm;
  static KeyBlob ak;
  static KeyBlob appKey;
  static RegistrarAgent registered;
  /** The plugin's own deadline scheduler, real time: the deadline tests use a short challenge_timeout. */
  static final ScheduledThreadPoolExecutor deadlines = KeylimeServerPlugin.deadlineScheduler();

  @BeforeAll
  static void setUp() throws Exception {
    pki = TestPki.create();
    swtpm = Swtpm.start();
    tpm = new KeylimeTpm(swtpm.tpm());
    ak = new KeylimeAgentTpm(tpm).createAk(Templates.akRsa(Alg.SHA256));
    appKey = tpm.createAppKey(Templates.appKeyEccP256());
    registered = new RegistrarAgent(UUID, TpmPublicArea.fromTpm2b(tpm.ekPublic().marshalTpm2b()), Optional.empty(), Optional.empty(),
        TpmPublicArea.fromTpm2b(ak.publicArea().marshalTpm2b()), Optional.empty(), false, Optional.empty(),
        Optional.empty(), 1);
  }

  @AfterAll
  static void stop() {
    deadlines.shutdownNow();
    swtpm.close();
  }

  /** Keylime as the test wants it to answer. */
  static class Answers implements Keylime {
    VerifierAgentStatus status = status(OperationalState.GET_QUOTE, AttestationStatus.PASS);
    IdentityVerification identity = new IdentityVerification(true, Optional.empty());

    @Override
    public RegistrarAgent registrarAgent(String agentId) throws KeylimeException {
      return registered;
    }

    @Override
    public VerifierAgentStatus verifierStatus(String agentId) throws KeylimeException {
      return status;
    }

    @Override
    public IdentityVerification verifyIdentity(String agentId, String quote, String nonce, String hashAlg) {
      return identity;
    }
  }

  static VerifierAgentStatus status(OperationalState s, AttestationStatus a) {
    return new VerifierAgentStatus(UUID, Optional.of(s), Optional.of(a), Optional.of(Instant.now()), Optional.empty(), 5,
        Optional.of("sha256"), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty());
  }

  /** A clock the test moves by hand. */
  static final class ManualClock extends Clock {
    Instant now = Instant.now();

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  static final class Recorder implements StreamObserver<AttestResponse> {
    final List<AttestResponse> messages = new CopyOnWriteArrayList<>();
    final CountDownLatch ended = new CountDownLatch(1);
    volatile Status error;
    volatile boolean completed;
    AttestStream stream;

    @Override
    public void onNext(AttestResponse value) {
      messages.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = Status.fromThrowable(t);
      ended.countDown();
    }

    @Override
    public void onCompleted() {
      completed = true;
      ended.countDown();
    }

    Status awaitError() throws InterruptedException {
      assertThat(ended.await(20, TimeUnit.SECONDS)).as("stream ended").isTrue();
      return error;
    }
  }

  AttestStream.Context context(Keylime keylime, Clock clock) throws Exception {
    return context(keylime, clock, "30s");
  }

  AttestStream.Context context(Keylime keylime, Clock clock, String challengeTimeout) throws Exception {
    ServerConfig config = ServerConfig.parse("example.org",
        pki.pluginData("challenge_timeout = \"" + challengeTimeout + "\"\n"));
    return new AttestStream.Context(config, keylime, new EvidenceVerifier(new ClockHistory(10)), new SecureRandom(), clock,
        new AttestMetrics(Optional.empty()), deadlines);
  }

  static AttestRequest payload() {
    return AttestRequest.newBuilder().setPayload(ByteString.copyFrom(
        WireFormat.encodePayload(new KeylimeAgentId(UUID), appKey.publicArea(), "sha256"))).build();
  }

  /** Runs one stream as SPIRE would, the node answering with {@code appKey} through {@code ak}. */
  static Recorder attest(AttestStream.Context ctx, Runnable beforeAnswer) throws Exception {
    return attest(ctx, payload(), beforeAnswer);
  }

  static Recorder attest(AttestStream.Context ctx, AttestRequest payload, Runnable beforeAnswer) throws Exception {
    return attest(ctx, payload, beforeAnswer, new Recorder());
  }

  static Recorder attest(AttestStream.Context ctx, AttestRequest payload, Runnable beforeAnswer, Recorder out)
      throws Exception {
    return attest(ctx, payload, beforeAnswer, out, java.util.function.UnaryOperator.identity());
  }

  /** As above, the node's answer changed by {@code tamper} before it is sent. */
  static Recorder attest(AttestStream.Context ctx, AttestRequest payload, Runnable beforeAnswer, Recorder out,
      java.util.function.UnaryOperator<SovereignAttestation> tamper) throws Exception {
    return attest(ctx, payload, beforeAnswer, out, tamper, ak);
  }

  /** As above, quoting and certifying with {@code signer} instead of the registered AK. */
  static Recorder attest(AttestStream.Context ctx, AttestRequest payload, Runnable beforeAnswer, Recorder out,
      java.util.function.UnaryOperator<SovereignAttestation> tamper, KeyBlob signer) throws Exception {
    AttestStream s = new AttestStream(ctx, out);
    out.stream = s;
    s.onNext(payload);
    if (out.error != null) {
      return out;
    }
    WireFormat.Challenge c = WireFormat.decodeChallenge(out.messages.get(0).getChallenge().toByteArray());
    KeylimeTpm.Evidence e = tpm.quoteAndCertify(signer, c.nonce().quoteQualifyingData(), c.selection(), appKey,
        AppKeyBinding.certifyQualifyingData(c.nonce()));
    SovereignAttestation att = SovereignAttestation.newBuilder().setTpmSignedAttestation(e.quote().encode())
        .setAppKeyPublic(ByteString.copyFrom(appKey.publicArea().marshalTpm2b())).setChallengeNonce(c.nonce().text())
        .setKeylimeAgentUuid(UUID).setAppKeyCertificate(AppKeyCertificate.newBuilder()
            .setCertifyInfo(ByteString.copyFrom(e.certify().attest().toByteArray()))
            .setSignature(ByteString.copyFrom(e.certify().signature().toByteArray()))).build();
    beforeAnswer.run();
    s.onNext(AttestRequest.newBuilder().setChallengeResponse(tamper.apply(att).toByteString()).build());
    return out;
  }

  @Test
  void aGoodNodeGetsItsIdSelectorsAndCanReattest() throws Exception {
    Recorder out = attest(context(new Answers(), Clock.systemUTC()), () -> {});
    assertThat(out.error).isNull();
    assertThat(out.completed).isTrue();
    var attrs = out.messages.get(1).getAgentAttributes();
    assertThat(attrs.getSpiffeId()).isEqualTo("spiffe://example.org/spire/agent/keylime/" + UUID);
    assertThat(attrs.getCanReattest()).isTrue();
    assertThat(attrs.getSelectorValuesList()).contains("uuid:" + UUID, "attestation_status:pass")
        .anyMatch(v -> v.startsWith("ek_hash:")).anyMatch(v -> v.startsWith("app_key:"));
  }

  @Test
  void theNodeAttestedLineIsAnAuditRecordOfTheEvidence() throws Exception {
    java.io.ByteArrayOutputStream logged = new java.io.ByteArrayOutputStream();
    AtomicReference<SovereignAttestation> sent = new AtomicReference<>();
    Answers keylime = new Answers();
    keylime.status = new VerifierAgentStatus(UUID, Optional.of(OperationalState.GET_QUOTE),
        Optional.of(AttestationStatus.PASS), Optional.of(Instant.now()), Optional.empty(), 5, Optional.of("sha256"),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.of("verifier-7"),
        Optional.empty(), Optional.empty());
    Log.redirect(logged);
    Recorder out;
    try {
      out = attest(context(keylime, Clock.systemUTC()), payload(), () -> {}, new Recorder(), att -> {
        sent.set(att);
        return att;
      });
    } finally {
      Log.redirect(System.err);
    }
    assertThat(out.completed).isTrue();
    Json line = null;
    for (String l : logged.toString(java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
      Json e = Json.parse(l);
      if ("node attested".equals(e.path("@message").asText())) {
        line = e;
      }
    }
    assertThat(line).as("the node attested line in %s", logged).isNotNull();
    // each value worked out here from what the node sent and the registrar holds, not by the plugin's code
    Attest quote = KeylimeQuote.parse(sent.get().getTpmSignedAttestation()).parsedAttest();
    java.security.MessageDigest sha256 = java.security.MessageDigest.getInstance("SHA-256");
    assertThat(line.path("quote_sha256").asText())
        .isEqualTo(java.util.HexFormat.of().formatHex(sha256.digest(quote.raw().toByteArray())));
    assertThat(line.path("pcr_digest").asText()).isEqualTo(quote.quote().pcrDigest().toHex()).hasSize(64);
    assertThat(line.path("ak_name").asText()).isEqualTo(java.util.HexFormat.of().formatHex(ak.publicArea().name()));
    assertThat(line.path("tpm_reset_count").asText()).isEqualTo(Integer.toUnsignedString(quote.resetCount()));
    assertThat(line.path("tpm_restart_count").asText()).isEqualTo(Integer.toUnsignedString(quote.restartCount()));
    assertThat(line.path("verifier_id").asText()).isEqualTo("verifier-7");
    List<String> selectors = out.messages.get(1).getAgentAttributes().getSelectorValuesList();
    assertThat(selectors).contains("ek_hash:" + line.path("ek_hash").asText(), "app_key:" + line.path("app_key").asText());
    assertThat(line.path("ek_hash").asText()).isEqualTo(java.util.HexFormat.of().formatHex(
        sha256.digest(tpm.ekPublic().toPublicKey().getEncoded())));
  }

  /** Keylime whose registrar record was cached before the agent registered again with another AK. */
  static class StaleRegistrar extends Answers {
    final RegistrarAgent stale;
    final Optional<RegistrarAgent> reread;
    int rereads;

    StaleRegistrar(Optional<RegistrarAgent> reread) throws Exception {
      // the App Key's public area stands in for the AK the agent had before
      this.stale = new RegistrarAgent(UUID, registered.ek(), Optional.empty(), Optional.empty(),
          TpmPublicArea.fromTpm2b(appKey.publicArea().marshalTpm2b()), Optional.empty(), false, Optional.empty(),
          Optional.empty(), 1);
      this.reread = reread;
    }

    @Override
    public RegistrarAgent registrarAgent(String agentId) {
      return stale;
    }

    @Override
    public Optional<RegistrarAgent> registrarAgentNewerThan(RegistrarAgent used)
        throws io.github.keylimeattestor.keylime.KeylimeException {
      assertThat(used).isSameAs(stale);
      rereads++;
      return reread;
    }
  }

  @Test
  void aQuoteThatFailsAgainstAStaleCachedRecordIsCheckedOnceMoreAgainstTheNewOne() throws Exception {
    StaleRegistrar keylime = new StaleRegistrar(Optional.of(registered));
    Recorder out = attest(context(keylime, Clock.systemUTC()), () -> {});
    assertThat(out.error).isNull();
    assertThat(out.completed).isTrue();
    assertThat(keylime.rereads).isEqualTo(1);
  }

  @Test
  void aQuoteThatFailsAgainstAnUnchangedRecordIsRefused() throws Exception {
    StaleRegistrar keylime = new StaleRegistrar(Optional.empty());
    Recorder out = attest(context(keylime, Clock.systemUTC()), () -> {});
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(keylime.rereads).isEqualTo(1);
  }

  @Test
  void aFailedCheckStandsWhenTheRegistrarCannotBeReadAgain() throws Exception {
    StaleRegistrar keylime = new StaleRegistrar(Optional.empty()) {
      @Override
      public Optional<RegistrarAgent> registrarAgentNewerThan(RegistrarAgent used)
          throws io.github.keylimeattestor.keylime.KeylimeException {
        rereads++;
        throw new io.github.keylimeattestor.keylime.KeylimeUnavailableException("registrar timed out", null, true, null);
      }
    };
    Recorder out = attest(context(keylime, Clock.systemUTC()), () -> {});
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.error.getDescription()).contains("is not a restricted signing key").doesNotContain("timed out");
    assertThat(keylime.rereads).isEqualTo(1);
  }

  @Test
  void aReplayedAnswerIsRefusedWithoutReadingTheRegistrarAgain() throws Exception {
    StaleRegistrar keylime = new StaleRegistrar(Optional.of(registered));
    Recorder out = attest(context(keylime, Clock.systemUTC()), payload(), () -> {}, new Recorder(),
        att -> att.toBuilder().setChallengeNonce("00".repeat(32)).build());
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.error.getDescription()).contains("answers another challenge");
    assertThat(keylime.rereads).isZero();
  }

  @Test
  void anAnswerAfterChallengeTimeoutIsUnavailable() throws Exception {
    ManualClock clock = new ManualClock();
    Recorder out = attest(context(new Answers(), clock), () -> clock.now = clock.now.plus(Duration.ofSeconds(31)));
    assertThat(out.error.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(out.error.getDescription()).contains("challenge_timeout");
  }

  @Test
  void theVerifiersSecondOpinionCanRefuse() throws Exception {
    Answers keylime = new Answers();
    keylime.identity = new IdentityVerification(false, Optional.of("The nonce from the attestation differs"));
    Recorder out = attest(context(keylime, Clock.systemUTC()), () -> {});
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.error.getDescription()).contains("does not accept the quote").contains("nonce");
  }

  /**
   * Keylime's verify/identity checks the signature's hash against hash_alg and hashes the PCR values
   * with it, as the TPM made pcrDigest: the AK's signing hash, whatever PCR bank the policy quotes.
   */
  @Test
  void theSecondOpinionIsAskedWithTheAksSigningHashNotThePcrBank() throws Exception {
    KeyBlob ak384 = new KeylimeAgentTpm(tpm).createAk(Templates.akRsa(Alg.SHA384));
    RegistrarAgent with384 = new RegistrarAgent(UUID, registered.ek(), Optional.empty(), Optional.empty(),
        TpmPublicArea.fromTpm2b(ak384.publicArea().marshalTpm2b()), Optional.empty(), false, Optional.empty(),
        Optional.empty(), 1);
    List<String> asked = new ArrayList<>();
    Answers keylime = new Answers() {
      @Override
      public RegistrarAgent registrarAgent(String agentId) {
        return with384;
      }

      @Override
      public IdentityVerification verifyIdentity(String agentId, String quote, String nonce, String hashAlg) {
        asked.add(hashAlg);
        return identity;
      }
    };
    AttestRequest sha384 = AttestRequest.newBuilder().setPayload(ByteString.copyFrom(
        WireFormat.encodePayload(new KeylimeAgentId(UUID), appKey.publicArea(), "sha384"))).build();
    Recorder out = attest(context(keylime, Clock.systemUTC()), sha384, () -> {}, new Recorder(),
        java.util.function.UnaryOperator.identity(), ak384);
    assertThat(out.error).isNull();
    assertThat(out.completed).isTrue();
    assertThat(asked).containsExactly("sha384"); // pcr_policy.bank is sha256 here
  }

  @Test
  void aFailedNodeIsRefusedBeforeAnyChallenge() throws Exception {
    Answers keylime = new Answers();
    keylime.status = status(OperationalState.INVALID_QUOTE, AttestationStatus.FAIL);
    Recorder out = attest(context(keylime, Clock.systemUTC()), () -> {});
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.messages).isEmpty();
  }

  /** Keylime's 404 (in its envelope): not registered or not enrolled yet, so Unavailable, words as troubleshooting.md quotes them. */
  @Test
  void aNodeKeylimeDoesNotKnowIsUnavailableNamingWhatToDo() throws Exception {
    java.net.URI uri = java.net.URI.create("https://127.0.0.1:8891/v2.6/agents/" + UUID);
    Answers unregistered = new Answers() {
      @Override
      public RegistrarAgent registrarAgent(String agentId) throws KeylimeException {
        throw new KeylimeApiException("not found", uri, 404, "agent not found", true);
      }
    };
    Recorder out = attest(context(unregistered, Clock.systemUTC()), () -> {});
    assertThat(out.error.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(out.error.getDescription())
        .isEqualTo("the Keylime registrar does not know agent " + UUID + " (not registered or not activated yet)");
    Answers unenrolled = new Answers() {
      @Override
      public VerifierAgentStatus verifierStatus(String agentId) throws KeylimeException {
        throw new KeylimeApiException("not found", uri, 404, "agent not found", true);
      }
    };
    out = attest(context(unenrolled, Clock.systemUTC()), () -> {});
    assertThat(out.error.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(out.error.getDescription())
        .isEqualTo("the Keylime verifier does not know agent " + UUID + " (not enrolled yet: keylime_tenant -c add)");
  }

  @Test
  void aChallengeResponseFirstIsInvalidArgument() throws Exception {
    Recorder out = new Recorder();
    new AttestStream(context(new Answers(), Clock.systemUTC()), out)
        .onNext(AttestRequest.newBuilder().setChallengeResponse(ByteString.copyFromUtf8("x")).build());
    assertThat(out.error.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void aStreamThatNeverAnswersIsEndedAtItsDeadlineWithUnavailable() throws Exception {
    Recorder out = new Recorder();
    AttestStream s = new AttestStream(context(new Answers(), Clock.systemUTC(), "300ms"), out);
    s.onNext(payload());
    assertThat(out.messages).singleElement().satisfies(m -> assertThat(m.hasChallenge()).isTrue());
    Status e = out.awaitError();
    assertThat(e.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getDescription()).contains("sent no answer to the challenge within challenge_timeout (300ms)");
    s.onCompleted(); // SPIRE's half-close after the end changes nothing
    assertThat(out.error).isSameAs(e);
  }

  @Test
  void aStreamThatSendsNoPayloadIsEndedAtItsDeadlineToo() throws Exception {
    Recorder out = new Recorder();
    new AttestStream(context(new Answers(), Clock.systemUTC(), "300ms"), out);
    Status e = out.awaitError();
    assertThat(e.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getDescription()).contains("sent no attestation payload within challenge_timeout");
    assertThat(out.messages).isEmpty();
  }

  @Test
  void aHalfCloseBeforeTheAnswerIsInvalidArgumentAtOnce() throws Exception {
    Recorder out = new Recorder();
    AttestStream s = new AttestStream(context(new Answers(), Clock.systemUTC()), out);
    s.onNext(payload());
    s.onCompleted();
    assertThat(out.error).isNotNull();
    assertThat(out.error.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(out.error.getDescription()).contains("before answering the challenge");

    Recorder early = new Recorder();
    new AttestStream(context(new Answers(), Clock.systemUTC()), early).onCompleted();
    assertThat(early.error.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(early.error.getDescription()).contains("before sending the attestation payload");
  }

  @Test
  void aHalfCloseAfterTheAttributesChangesNothing() throws Exception {
    Recorder done = attest(context(new Answers(), Clock.systemUTC()), () -> {});
    assertThat(done.completed).isTrue();
    done.stream.onCompleted();
    assertThat(done.error).isNull();
  }

  @Test
  void waitingStreamsShareOneSchedulerThreadAndLeaveNothingQueued() throws Exception {
    AttestStream.Context ctx = context(new Answers(), Clock.systemUTC());
    int queued = deadlines.getQueue().size();
    int threads = java.lang.management.ManagementFactory.getThreadMXBean().getThreadCount();
    List<AttestStream> streams = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      Recorder out = new Recorder();
      AttestStream s = new AttestStream(ctx, out);
      s.onNext(payload());
      assertThat(out.messages).hasSize(1);
      streams.add(s);
    }
    assertThat(java.lang.management.ManagementFactory.getThreadMXBean().getThreadCount())
        .as("threads while 200 streams wait for their answer").isLessThanOrEqualTo(threads + 2);
    assertThat(deadlines.getQueue().size()).isEqualTo(queued + 200);
    streams.forEach(s -> s.onError(Status.CANCELLED.asException()));
    assertThat(deadlines.getQueue().size()).as("cancelled streams drop their deadline").isEqualTo(queued);
  }

  @Test
  void theTransportBoundFitsTheLargestMessageTheServerDecodes() {
    int largest = AttestRequest.newBuilder().setChallengeResponse(ByteString.copyFrom(new byte[WireFormat.MAX_ATTESTATION]))
        .build().getSerializedSize();
    assertThat(largest).isLessThanOrEqualTo(io.github.keylimeattestor.sdk.PluginMain.MAX_INBOUND_MESSAGE_BYTES / 2 + 8);
    assertThat(AttestRequest.newBuilder().setPayload(ByteString.copyFrom(new byte[WireFormat.MAX_PAYLOAD])).build()
        .getSerializedSize()).isLessThan(largest);
  }

  /** The first message of a stream whose payload names {@code agentId}. */
  Recorder payloadOnly(String agentId) throws Exception {
    Recorder out = new Recorder();
    new AttestStream(context(new Answers(), Clock.systemUTC()), out).onNext(AttestRequest.newBuilder()
        .setPayload(ByteString.copyFrom(WireFormat.encodePayload(KeylimeAgentId.parse(agentId), appKey.publicArea(),
            "sha256"))).build());
    return out;
  }

  @Test
  void anEkHashAgentIdMustBeTheRegistrarsEkHash() throws Exception {
    String ekHash = io.github.keylimeattestor.tpm.structure.AgentData.ekHash(registered.ek().publicKey());
    Recorder good = payloadOnly(ekHash);
    assertThat(good.error).isNull();
    assertThat(good.messages.get(0).hasChallenge()).isTrue();
    Recorder other = payloadOnly(ekHash.substring(1) + (ekHash.charAt(0) == 'a' ? "b" : "a"));
    assertThat(other.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(other.error.getDescription()).contains("EK-hash form");
    assertThat(other.messages).isEmpty();
  }

  @Test
  void theRevocationWatchLearnsEachNodeThatPassesAndNoOther() throws Exception {
    List<io.github.keylimeattestor.server.revocation.AttestedNode> learnt = new ArrayList<>();
    AttestStream.Context base = context(new Answers(), Clock.systemUTC());
    AttestStream.Context ctx = new AttestStream.Context(base.config(), base.keylime(), base.evidence(), base.random(),
        base.clock(), base.metrics(), base.deadlines(), learnt::add);
    assertThat(attest(ctx, () -> {}).error).isNull();
    assertThat(learnt).containsExactly(new io.github.keylimeattestor.server.revocation.AttestedNode(
        "spiffe://example.org/spire/agent/keylime/" + UUID, UUID, Optional.empty()));

    Answers failed = new Answers();
    failed.status = status(OperationalState.INVALID_QUOTE, AttestationStatus.FAIL);
    AttestStream.Context refusing = new AttestStream.Context(base.config(), failed, base.evidence(), base.random(),
        base.clock(), base.metrics(), base.deadlines(), learnt::add);
    assertThat(attest(refusing, () -> {}).error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(learnt).hasSize(1);
  }

  @Test
  void aPayloadNamingAnotherHashThanTheRegistrarsAkIsPermissionDenied() throws Exception {
    AttestRequest sha384 = AttestRequest.newBuilder().setPayload(ByteString.copyFrom(
        WireFormat.encodePayload(new KeylimeAgentId(UUID), appKey.publicArea(), "sha384"))).build();
    Recorder out = attest(context(new Answers(), Clock.systemUTC()), sha384, () -> {});
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.error.getDescription()).contains("signs with sha384 (ak_hash_alg in its agent_data.json)")
        .contains("RSASSA-SHA256").contains("agent_data_path");
    assertThat(out.messages).hasSize(1); // the challenge only: no agent attributes
  }

  /**
   * Each metric is a call to SPIRE's Metrics host service, which costs more than a millisecond while
   * the JIT is cold: the stream makes them once its answer is out, and none is lost when it refuses
   * or when SPIRE cancels it.
   */
  @Test
  void theStreamSendsItsMetricsToSpireAfterItsAnswerAndAllOfThem() throws Exception {
    List<String> received = new CopyOnWriteArrayList<>();
    String name = InProcessServerBuilder.generateName();
    Server metricsHost = InProcessServerBuilder.forName(name).directExecutor()
        .addService(new MetricsGrpc.MetricsImplBase() {
          @Override
          public void addSample(AddSampleRequest r, StreamObserver<Empty> o) {
            received.add(String.join(".", r.getKeyList()) + " " + r.getLabels(0).getValue());
            o.onNext(Empty.getDefaultInstance());
            o.onCompleted();
          }

          @Override
          public void incrCounter(IncrCounterRequest r, StreamObserver<Empty> o) {
            received.add(String.join(".", r.getKeyList()) + " " + r.getLabels(0).getValue() + " "
                + r.getLabels(1).getValue());
            o.onNext(Empty.getDefaultInstance());
            o.onCompleted();
          }
        }).build().start();
    AtomicReference<Recorder> current = new AtomicReference<>(); // the stream in flight
    List<String> callsBeforeTheAnswer = new CopyOnWriteArrayList<>();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor()
        .intercept(new ClientInterceptor() {
          @Override
          public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method,
              CallOptions options, Channel next) {
            Recorder r = current.get();
            if (!r.completed && r.error == null) {
              callsBeforeTheAnswer.add(method.getBareMethodName());
            }
            return next.newCall(method, options);
          }
        }).build();
    try {
      AttestStream.Context base = context(new Answers(), Clock.systemUTC());
      AttestMetrics metrics = new AttestMetrics(Optional.of(HostServices.metricsStub(channel)));
      AttestStream.Context ctx = new AttestStream.Context(base.config(), base.keylime(), base.evidence(),
          base.random(), base.clock(), metrics, base.deadlines());
      current.set(new Recorder());
      assertThat(attest(ctx, payload(), () -> {}, current.get()).completed).isTrue();
      awaitUntil(() -> received.size() == 6);
      assertThat(received).containsExactlyInAnyOrder("keylime_attestor.phase_ms registrar",
          "keylime_attestor.phase_ms verifier", "keylime_attestor.phase_ms verify_identity",
          "keylime_attestor.phase_ms evidence", "keylime_attestor.phase_ms total",
          "keylime_attestor.attestation ok attested");

      received.clear();
      Answers failed = new Answers();
      failed.status = status(OperationalState.INVALID_QUOTE, AttestationStatus.FAIL);
      AttestStream.Context refusing = new AttestStream.Context(base.config(), failed, base.evidence(),
          base.random(), base.clock(), metrics, base.deadlines());
      current.set(new Recorder());
      assertThat(attest(refusing, payload(), () -> {}, current.get()).error.getCode())
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      awaitUntil(() -> received.stream().anyMatch(m -> m.startsWith("keylime_attestor.attestation")));
      Thread.sleep(100); // nothing more may come
      assertThat(received).containsExactlyInAnyOrder("keylime_attestor.phase_ms registrar",
          "keylime_attestor.phase_ms verifier", "keylime_attestor.attestation denied keylime");
      assertThat(callsBeforeTheAnswer).isEmpty();

      // a configuration to fix (here a registrar URL that answers something else): "misconfigured",
      // not "error", which the alert rules page as a plugin bug
      received.clear();
      Answers notTheRegistrar = new Answers() {
        @Override
        public RegistrarAgent registrarAgent(String agentId) throws KeylimeException {
          throw new io.github.keylimeattestor.keylime.KeylimeMalformedResponseException(
              "registrar at https://r answered invalid JSON", java.net.URI.create("https://r"), null);
        }
      };
      AttestStream.Context misconfigured = new AttestStream.Context(base.config(), notTheRegistrar, base.evidence(),
          base.random(), base.clock(), metrics, base.deadlines());
      current.set(new Recorder());
      Status refused = attest(misconfigured, payload(), () -> {}, current.get()).error;
      assertThat(refused.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(refused.getDescription()).contains("registrar_urls name the Keylime registrar itself");
      // its outcome and the registrar phase, sent after the answer (a late one would land in the next case)
      awaitUntil(() -> received.size() >= 2);
      Thread.sleep(100); // nothing more may come
      assertThat(received).hasSize(2).contains("keylime_attestor.phase_ms registrar")
          .anyMatch(m -> m.startsWith("keylime_attestor.attestation misconfigured "));

      // SPIRE cancels the stream after the payload: the phases so far still reach it, no outcome
      received.clear();
      current.set(new Recorder());
      AttestStream cancelled = new AttestStream(ctx, current.get());
      cancelled.onNext(payload());
      assertThat(current.get().messages).hasSize(1); // the challenge
      cancelled.onError(Status.CANCELLED.asRuntimeException());
      awaitUntil(() -> received.size() >= 2);
      Thread.sleep(100);
      assertThat(received).containsExactlyInAnyOrder("keylime_attestor.phase_ms registrar",
          "keylime_attestor.phase_ms verifier");

      // sent once SPIRE's stream has ended: its gRPC context is cancelled by then, and calls made in
      // it would be cancelled unsent
      received.clear();
      io.grpc.Context.CancellableContext ended = io.grpc.Context.current().withCancellation();
      ended.cancel(null);
      ended.run(() -> {
        AttestMetrics.Held held = metrics.held();
        held.outcome("ok", "attested");
        held.send();
      });
      awaitUntil(() -> received.size() == 1);
      assertThat(received).containsExactly("keylime_attestor.attestation ok attested");
    } finally {
      channel.shutdownNow();
      metricsHost.shutdownNow();
    }
  }

  static void awaitUntil(BooleanSupplier done) throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!done.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waited 10 s").isLessThan(until);
      Thread.sleep(5);
    }
  }
}
