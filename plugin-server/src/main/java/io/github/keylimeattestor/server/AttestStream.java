package io.github.keylimeattestor.server;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.keylime.IdentityVerification;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.RegistrarAgent;
import io.github.keylimeattestor.keylime.TpmPublicArea;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AgentAttributes;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestRequest;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestResponse;
import io.github.keylimeattestor.sdk.hcl.Durations;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.server.revocation.AttestedNode;
import io.github.keylimeattestor.server.trust.EkBinding;
import io.github.keylimeattestor.server.trust.NodeAdmission;
import io.github.keylimeattestor.sovereign.AgentIdentity;
import io.github.keylimeattestor.sovereign.EvidenceException;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.github.keylimeattestor.sovereign.Nonce;
import io.github.keylimeattestor.sovereign.RegisteredKeys;
import io.github.keylimeattestor.sovereign.TpmKey;
import io.github.keylimeattestor.sovereign.VerifiedNode;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.Sha256;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One SPIRE Attest stream: payload -> Keylime registrar and verifier -> challenge -> evidence
 * checks -> agent attributes. Every step fails closed with the status of DESIGN.md section 4. This
 * handler makes the network calls and sends the answers; what the evidence proves and which ID and
 * selectors follow from it are the evidence module's ({@link EvidenceVerifier#verifyNode},
 * {@link AgentIdentity#of}).
 */
final class AttestStream implements StreamObserver<AttestRequest> {
  private static final Log LOG = Log.named("keylime.server");

  /**
   * What a stream needs; one per configuration, shared by all streams. {@code deadlines} ends the
   * streams that wait too long: one scheduler thread for all of them, never a thread per stream.
   */
  record Context(ServerConfig config, Keylime keylime, EvidenceVerifier evidence, SecureRandom random, Clock clock,
      AttestMetrics metrics, ScheduledExecutorService deadlines, Consumer<AttestedNode> attested,
      Optional<EkBinding> ekBinding) {
    Context(ServerConfig config, Keylime keylime, EvidenceVerifier evidence, SecureRandom random, Clock clock,
        AttestMetrics metrics, ScheduledExecutorService deadlines, Consumer<AttestedNode> attested) {
      this(config, keylime, evidence, random, clock, metrics, deadlines, attested, Optional.empty());
    }

    Context(ServerConfig config, Keylime keylime, EvidenceVerifier evidence, SecureRandom random, Clock clock,
        AttestMetrics metrics, ScheduledExecutorService deadlines) {
      this(config, keylime, evidence, random, clock, metrics, deadlines, n -> {});
    }
  }

  private final Context ctx;
  private final StreamObserver<AttestResponse> out;
  private final AttestMetrics.Held metrics;
  private final long started = System.nanoTime();
  /**
   * Guards the stream's state and {@code out}. The deadline task only ever tries it: while a
   * message is being handled (which may wait on Keylime for up to keylime_timeout) it leaves a
   * mark that the handler acts on when it lets go, so the one scheduler thread never blocks.
   */
  private final ReentrantLock lock = new ReentrantLock();
  private volatile boolean done;
  private volatile boolean expired;
  private WireFormat.Payload payload;
  private RegistrarAgent record;
  private RegisteredKeys registered;
  private VerifierAgentStatus status;
  private Nonce nonce;
  private Instant deadline;
  private ScheduledFuture<?> timer;

  /** Opens the stream: its payload, like its answer later, must come within challenge_timeout. */
  AttestStream(Context ctx, StreamObserver<AttestResponse> out) {
    this.ctx = ctx;
    this.out = out;
    this.metrics = ctx.metrics().held();
    lock.lock();
    try {
      armDeadline();
    } finally {
      lock.unlock();
    }
    endIfExpired(); // in case a tiny challenge_timeout passed while the lock was held
  }

  @Override
  public void onNext(AttestRequest request) {
    lock.lock();
    try {
      if (done) {
        return;
      }
      if (payload == null) {
        onPayload(request);
      } else {
        onChallengeResponse(request);
      }
    } catch (StatusException e) {
      fail(e, "keylime");
    } catch (EvidenceException e) {
      Status s = e.kind() == EvidenceException.Kind.MALFORMED ? Status.INVALID_ARGUMENT : Status.PERMISSION_DENIED;
      fail(s.withDescription(e.getMessage()).asException(), e.check());
    } catch (RuntimeException e) {
      LOG.error("attestation failed on a bug", "error", e);
      fail(Status.INTERNAL.withDescription("keylime attestor bug: " + e).asException(), "internal");
    } finally {
      lock.unlock();
    }
    endIfExpired();
  }

  /** Caller holds the lock. (Re)starts the stream's deadline, challenge_timeout from now. */
  private void armDeadline() {
    if (timer != null) {
      timer.cancel(false);
    }
    expired = false;
    timer = ctx.deadlines().schedule(this::onDeadline, ctx.config().challengeTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }

  private void onDeadline() {
    expired = true;
    endIfExpired();
  }

  /** Ends the stream if its deadline passed, unless a handler holds the lock (it calls this when done). */
  private void endIfExpired() {
    while (expired && !done && lock.tryLock()) {
      try {
        if (expired && !done) {
          String what = payload == null ? "sent no attestation payload" : "sent no answer to the challenge";
          fail(Status.UNAVAILABLE.withDescription("the node " + what + " within challenge_timeout ("
              + Durations.format(ctx.config().challengeTimeout()) + "); the stream is ended: is its TPM slow or busy, or the agent "
              + "stuck?").asException(), "challenge_timeout");
        }
      } finally {
        lock.unlock();
      }
    }
  }

  private void onPayload(AttestRequest request) throws StatusException, EvidenceException {
    if (request.getRequestCase() != AttestRequest.RequestCase.PAYLOAD) {
      throw Status.INVALID_ARGUMENT.withDescription("expected the attestation payload first").asException();
    }
    payload = WireFormat.decodePayload(request.getPayload().toByteArray());
    String id = payload.agentId().value();
    long t = System.nanoTime();
    try {
      record = ctx.keylime().registrarAgent(id);
    } catch (KeylimeException e) {
      throw KeylimeErrors.toStatus("registrar", id, e);
    } finally {
      metrics.phase("registrar", System.nanoTime() - t);
    }
    try {
      checkRegistrarRecord(id);
    } catch (EvidenceException | StatusException e) {
      if (!registrarRecordChanged(id, e)) {
        throw e;
      }
      checkRegistrarRecord(id);
    }
    t = System.nanoTime();
    try {
      status = ctx.keylime().verifierStatus(id);
    } catch (KeylimeException e) {
      throw KeylimeErrors.toStatus("verifier", id, e);
    } finally {
      metrics.phase("verifier", System.nanoTime() - t);
    }
    if (status.isPushMode()) {
      PushStatusPolicy.check(ctx.config(), status, latestPushAttestation(id), ctx.clock().instant());
    } else {
      StatusPolicy.check(ctx.config(), status, ctx.clock().instant());
    }
    NodeAdmission.checkVerifierRecord(ctx.config().trust(), status);
    nonce = Nonce.mint(ctx.random());
    deadline = ctx.clock().instant().plus(ctx.config().challengeTimeout());
    armDeadline();
    LOG.debug("challenging node", "agent_uuid", id);
    out.onNext(AttestResponse.newBuilder().setChallenge(ByteString.copyFrom(
        WireFormat.encodeChallenge(nonce, ctx.config().pcrPolicy().selection()))).build());
  }

  /** A registrar key as keylime-client parsed it: nothing is derived twice. */
  private static TpmKey key(TpmPublicArea area) {
    return new TpmKey(area.parsed(), area.publicKey(), Bytes.copyFrom(area.name()));
  }

  private void onChallengeResponse(AttestRequest request) throws StatusException, EvidenceException {
    if (request.getRequestCase() != AttestRequest.RequestCase.CHALLENGE_RESPONSE) {
      throw Status.INVALID_ARGUMENT.withDescription("expected a challenge response").asException();
    }
    if (ctx.clock().instant().isAfter(deadline)) {
      throw Status.UNAVAILABLE.withDescription("the node answered after challenge_timeout ("
          + Durations.format(ctx.config().challengeTimeout()) + "); is its TPM slow or busy?").asException();
    }
    String id = payload.agentId().value();
    SovereignAttestation att = WireFormat.decodeAttestation(request.getChallengeResponse().toByteArray());
    long t = System.nanoTime();
    VerifiedNode node;
    try {
      try {
        node = verifyNode(att);
      } catch (EvidenceException e) {
        if (!registrarRecordChanged(id, e)) {
          throw e;
        }
        checkRegistrarRecord(id);
        node = verifyNode(att);
      }
    } finally {
      metrics.phase("evidence", System.nanoTime() - t);
    }
    node.ekCertificate().refusal().ifPresent(reason -> LOG.warn("EK certificate not verified; no tpm selectors for "
        + "this node", "agent_uuid", id, "reason", reason));
    if (ctx.config().verifierIdentityCheck()) {
      secondOpinion(id, att);
    }
    AgentIdentity identity = AgentIdentity.of(node, ctx.config().identityPolicy());
    String spiffeId = identity.spiffeId();
    if (ctx.ekBinding().isPresent() && !ctx.config().agentIdNamesTheEkAlone()) {
      long b = System.nanoTime();
      try {
        ctx.ekBinding().get().check(spiffeId, node.ek().spkiSha256());
      } finally {
        metrics.phase("ek_binding", System.nanoTime() - b);
      }
    }
    SvidKeyRecorder.record(ctx.config().tpmBoundSvid(), node.svidKeys(), spiffeId, ctx.clock());
    ctx.attested().accept(new AttestedNode(spiffeId, id, status.verifierId()));
    long total = System.nanoTime() - started;
    metrics.phase("total", total);
    // An audit record of what the SVID rests on: the keys (as the selectors name them), the AK's TPM
    // Name, and the quote by its hash and PCR digest, which tie it to the TPM's own quote if kept.
    LOG.info("node attested", "agent_uuid", id, "spiffe_id", spiffeId, "selectors", identity.selectors().size(),
        "svid_keys", node.svidKeys().size(), "server_ms", total / 1_000_000, "ek_hash", node.ek().spkiSha256(),
        "app_key", node.appKey().spkiSha256(), "ak_name", node.ak().name().toHex(),
        "quote_sha256", Sha256.hex(node.quote().raw().toByteArray()),
        "pcr_digest", node.quote().quote().pcrDigest().toHex(), "tpm_reset_count", Integer.toUnsignedString(
            node.quote().resetCount()), "tpm_restart_count", Integer.toUnsignedString(node.quote().restartCount()),
        "verifier_id", status.verifierId().orElse(""));
    // Anything above that throws still reaches fail(), which answers; from here on the stream is done.
    finish();
    try {
      out.onNext(AttestResponse.newBuilder().setAgentAttributes(AgentAttributes.newBuilder()
          .setSpiffeId(spiffeId).addAllSelectorValues(identity.selectors()).setCanReattest(true)).build());
      out.onCompleted();
      metrics.outcome("ok", "attested"); // only an answer SPIRE took counts as attested
    } finally {
      metrics.send(); // after the answer: see AttestMetrics.Held
    }
  }

  private VerifiedNode verifyNode(SovereignAttestation att) throws EvidenceException {
    return ctx.evidence().verifyNode(nonce, ctx.config().evidencePolicy(), payload, att, registered,
        NodeAdmission.verifierRecord(status));
  }

  /** The checks of the registrar's record alone: the EK-hash form of the ID, the EK allow-list. */
  private void checkRegistrarRecord(String id) throws EvidenceException, StatusException {
    registered = new RegisteredKeys(key(record.ak()), key(record.ek()), record.ekCertificate(),
        record.ekCertificateUnreadable());
    payload.agentId().checkKeylimeHashEk(registered.ek().key());
    NodeAdmission.checkEk(ctx.config().trust(), id, registered.ek().spkiSha256());
  }

  /**
   * Checks whose outcome hangs on the registrar's record (its AK or EK): a record newer than the
   * cached one could pass them. Any other failure (a replayed nonce, malformed evidence, PCRs) stands.
   */
  private static final Set<String> REGISTRAR_BOUND_CHECKS = Set.of("ak", "ak_scheme", "ak_attributes", "hash_alg",
      "quote", "tpm_clock", "app_key_certify", "svid_key_certify", "agent_uuid_ek_hash", "ek_certificate");

  /**
   * A check of the registrar's record failed against a record that may have come from the cache:
   * reads it again once (the agent may have registered anew) and takes the new one if it changed.
   * If that read fails, the first failure stands: it is what SPIRE and the operator must see.
   */
  private boolean registrarRecordChanged(String id, Exception failure) {
    if (failure instanceof EvidenceException e && !REGISTRAR_BOUND_CHECKS.contains(e.check())) {
      return false;
    }
    Optional<RegistrarAgent> fresh;
    try {
      fresh = ctx.keylime().registrarAgentNewerThan(record);
    } catch (KeylimeException e) {
      LOG.warn("could not read the registrar record again after a failed check; the failure stands", "agent_uuid", id,
          "failed_check", failure.getMessage(), "error", e.getMessage());
      return false;
    }
    if (fresh.isEmpty()) {
      return false;
    }
    LOG.info("registrar record changed since it was cached; checking again", "agent_uuid", id,
        "failed_check", failure.getMessage());
    record = fresh.get();
    return true;
  }

  private java.util.Optional<io.github.keylimeattestor.keylime.PushAttestation> latestPushAttestation(String id)
      throws StatusException {
    long t = System.nanoTime();
    try {
      return ctx.keylime().latestPushAttestation(id);
    } catch (KeylimeException e) {
      throw KeylimeErrors.toStatus("verifier", id, e);
    } finally {
      metrics.phase("verifier_push", System.nanoTime() - t);
    }
  }

  private void secondOpinion(String id, SovereignAttestation att) throws StatusException {
    long t = System.nanoTime();
    IdentityVerification v;
    try {
      // The signature's hash, which Keylime also hashes the PCR values with (as the TPM made pcrDigest);
      // verifyNode has checked it is the registrar's AK's. Not the PCR bank, which may differ.
      v = ctx.keylime().verifyIdentity(id, att.getTpmSignedAttestation(), nonce.text(),
          WireFormat.hashAlgName(payload.hashAlg()));
    } catch (KeylimeException e) {
      throw KeylimeErrors.toStatus("verifier", id, e);
    } finally {
      metrics.phase("verify_identity", System.nanoTime() - t);
    }
    if (!v.valid()) {
      throw Status.PERMISSION_DENIED.withDescription("the Keylime verifier does not accept the quote for agent " + id
          + ": " + v.reason().orElse("no reason given")).asException();
    }
  }

  /** Caller holds the lock. */
  private void finish() {
    done = true;
    if (timer != null) {
      timer.cancel(false);
    }
  }

  /** Caller holds the lock. */
  private void fail(StatusException e, String reason) {
    if (done) {
      return;
    }
    finish();
    String outcome = switch (e.getStatus().getCode()) {
      case PERMISSION_DENIED -> "denied";
      case INVALID_ARGUMENT -> "malformed";
      case UNAVAILABLE -> "unavailable";
      case FAILED_PRECONDITION -> "misconfigured"; // TLS, client certificate, API version, the plugin's own files
      default -> "error";
    };
    metrics.outcome(outcome, reason);
    LOG.warn("attestation refused", "agent_uuid", payload == null ? "" : payload.agentId().value(),
        "code", e.getStatus().getCode().name(), "reason", reason, "error", e.getStatus().getDescription());
    try {
      out.onError(e);
    } finally {
      metrics.send();
    }
  }

  /** SPIRE cancelled the stream (its agent went away): nothing more to send. */
  @Override
  public void onError(Throwable t) {
    lock.lock();
    try {
      finish();
      metrics.send();
    } finally {
      lock.unlock();
    }
  }

  /** A half-close before the attestation is done can never be answered: say so at once. */
  @Override
  public void onCompleted() {
    lock.lock();
    try {
      if (!done) {
        fail(Status.INVALID_ARGUMENT.withDescription("the node closed its side of the stream before "
            + (payload == null ? "sending the attestation payload" : "answering the challenge")).asException(),
            "half_closed");
      }
    } finally {
      lock.unlock();
    }
  }
}
