package io.github.keylimeattestor.server;

import static io.github.keylimeattestor.server.StatusPolicyTest.NOW;
import static io.github.keylimeattestor.server.StatusPolicyTest.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.IntegrityPolicy;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.PushAttestation;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.grpc.Status;
import io.grpc.StatusException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The push-mode gate over the combinations a Keylime 7.14.3 push verifier was seen to serve (PushModeIT: the real one). */
class PushStatusPolicyTest {
  static final ServerConfig FIVE_MIN = config(true, Duration.ofMinutes(5));

  /** As 7.14.3 reports a push agent: operational_state 3, ip and port null (pushMode). */
  static VerifierAgentStatus push(AttestationStatus status, Instant lastSuccess) {
    return new VerifierAgentStatus("u-1", Optional.of(OperationalState.GET_QUOTE), Optional.of(status),
        Optional.ofNullable(lastSuccess), Optional.ofNullable(lastSuccess), 7, Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.of("default"), Optional.empty(),
        Optional.of("{}"), IntegrityPolicy.UNKNOWN, true);
  }

  static Optional<PushAttestation> latest(String stage, String evaluation, Instant evidenceAt) {
    return Optional.of(new PushAttestation(stage, evaluation, Optional.empty(),
        Optional.ofNullable(evidenceAt).map(t -> t.minusMillis(40)), Optional.ofNullable(evidenceAt)));
  }

  static Status.Code code(ServerConfig c, VerifierAgentStatus s, Optional<PushAttestation> latest) {
    try {
      PushStatusPolicy.check(c, s, latest, NOW);
      return Status.Code.OK;
    } catch (StatusException e) {
      return e.getStatus().getCode();
    }
  }

  @Test
  void latestEvaluationPassedWithinMaxAgeIsAccepted() {
    assertThat(code(FIVE_MIN, push(AttestationStatus.PASS, NOW.minusSeconds(2)),
        latest("verification_complete", "pass", NOW.minusSeconds(2)))).isEqualTo(Status.Code.OK);
    // the next attestation is open but its evidence not yet judged: the last success counts
    assertThat(code(FIVE_MIN, push(AttestationStatus.PASS, NOW.minusSeconds(2)),
        latest("awaiting_evidence", "pending", null))).isEqualTo(Status.Code.OK);
    assertThat(code(FIVE_MIN, push(AttestationStatus.PASS, NOW.minusSeconds(2)),
        latest("evaluating_evidence", "pending", NOW.minusSeconds(1)))).isEqualTo(Status.Code.OK);
  }

  @Test
  void aPassWithNoTimeIsNotAdmittedEvenWithoutAnAgeBound() {
    ServerConfig noBound = config(true, null);
    assertThat(code(noBound, push(AttestationStatus.PASS, null), Optional.empty())).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(noBound, push(AttestationStatus.PASS, null), latest("verification_complete", "pass", null)))
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(noBound, push(AttestationStatus.PASS, NOW.minusSeconds(86_400)), Optional.empty()))
        .isEqualTo(Status.Code.OK);
    assertThat(code(FIVE_MIN, push(AttestationStatus.PASS, NOW.plusSeconds(600)),
        latest("verification_complete", "pass", NOW.plusSeconds(600)))).isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void aFailureOrTerminatedOperationalStateRefusesAsInPullMode() {
    for (OperationalState failed : new OperationalState[] {OperationalState.FAILED, OperationalState.INVALID_QUOTE,
        OperationalState.TENANT_FAILED, OperationalState.TERMINATED}) {
      VerifierAgentStatus p = push(AttestationStatus.PASS, NOW.minusSeconds(2));
      VerifierAgentStatus s = new VerifierAgentStatus(p.agentId(), Optional.of(failed), p.attestationStatus(),
          p.lastSuccessfulAttestation(), p.lastReceivedQuote(), p.attestationCount(), p.hashAlg(), p.signAlg(),
          p.encAlg(), p.severityLevel(), p.lastEventId(), p.verifierId(), p.tpmPolicy(), p.metaData(),
          p.integrityPolicy(), true);
      assertThat(code(FIVE_MIN, s, latest("verification_complete", "pass", NOW.minusSeconds(2)))).as(failed.name())
          .isEqualTo(Status.Code.PERMISSION_DENIED);
    }
  }

  @Test
  void aFailedEvaluationIsDefinitive() {
    assertThat(code(FIVE_MIN, push(AttestationStatus.FAIL, NOW.minusSeconds(9)),
        latest("verification_complete", "fail", NOW.minusSeconds(1)))).isEqualTo(Status.Code.PERMISSION_DENIED);
    // Keylime keeps FAIL after a later pass unless auto_recover_attestation_failures: so do we
    assertThat(code(FIVE_MIN, push(AttestationStatus.FAIL, NOW.minusSeconds(1)),
        latest("verification_complete", "pass", NOW.minusSeconds(1)))).isEqualTo(Status.Code.PERMISSION_DENIED);
    // the latest failed, whatever the summary says
    assertThatThrownBy(() -> PushStatusPolicy.check(FIVE_MIN, push(AttestationStatus.PASS, NOW.minusSeconds(9)),
        latest("verification_complete", "fail", NOW.minusSeconds(1)), NOW))
        .isInstanceOf(StatusException.class).hasMessageContaining("PERMISSION_DENIED")
        .hasMessageContaining("failed the evidence agent u-1 pushed at " + NOW.minusSeconds(1));
  }

  @Test
  void aNodeThatStoppedPushingIsRefusedOnceStale() {
    // TIMEOUT: the verifier's own timer (5 x quote_interval); the latest attestation still reads pass
    assertThatThrownBy(() -> PushStatusPolicy.check(FIVE_MIN, push(AttestationStatus.TIMEOUT, NOW.minusSeconds(60)),
        latest("verification_complete", "pass", NOW.minusSeconds(60)), NOW))
        .isInstanceOf(StatusException.class).hasMessageContaining("UNAVAILABLE").hasMessageContaining("TIMEOUT");
    // older than max_attestation_age before Keylime's timer fires
    ServerConfig tight = config(true, Duration.ofSeconds(20));
    assertThatThrownBy(() -> PushStatusPolicy.check(tight, push(AttestationStatus.PASS, NOW.minusSeconds(21)),
        latest("verification_complete", "pass", NOW.minusSeconds(21)), NOW))
        .isInstanceOf(StatusException.class).hasMessageContaining("UNAVAILABLE")
        .hasMessageContaining("older than max_attestation_age 20s");
    assertThat(code(tight, push(AttestationStatus.PASS, NOW.minusSeconds(21)), latest("awaiting_evidence", "pending",
        null))).isEqualTo(Status.Code.UNAVAILABLE);
    // max_attestation_age = "0" opts out of the age, not of the evaluation
    assertThat(code(config(true, null), push(AttestationStatus.PASS, NOW.minusSeconds(3600)),
        latest("verification_complete", "pass", NOW.minusSeconds(3600)))).isEqualTo(Status.Code.OK);
  }

  @Test
  void nothingPassedYetIsRetryable() {
    assertThat(code(FIVE_MIN, push(AttestationStatus.PENDING, null), Optional.empty()))
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(FIVE_MIN, push(AttestationStatus.PENDING, null), latest("awaiting_evidence", "pending", null)))
        .isEqualTo(Status.Code.UNAVAILABLE);
  }
}
