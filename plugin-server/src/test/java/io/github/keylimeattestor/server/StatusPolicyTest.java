package io.github.keylimeattestor.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.grpc.Status;
import io.grpc.StatusException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StatusPolicyTest {
  static final Instant NOW = Instant.parse("2026-11-23T12:00:00Z");

  static ServerConfig config(boolean requirePass, Duration maxAge) {
    return new ServerConfig("example.org", null, null, java.util.List.of(), false, ServerConfig.DEFAULT_STATES,
        requirePass, Optional.ofNullable(maxAge), null, java.util.Set.of(), java.util.Set.of(), null,
        Duration.ofSeconds(60), true, false);
  }

  static VerifierAgentStatus status(OperationalState state, AttestationStatus status, Instant lastSuccess) {
    return new VerifierAgentStatus("u-1", Optional.ofNullable(state), Optional.ofNullable(status),
        Optional.ofNullable(lastSuccess), Optional.empty(), 3, Optional.of("sha256"), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.of("internal.verifier.not_reachable"), Optional.empty(), Optional.empty(), Optional.empty());
  }

  static Status.Code code(ServerConfig c, VerifierAgentStatus s) {
    try {
      StatusPolicy.check(c, s, NOW);
      return Status.Code.OK;
    } catch (StatusException e) {
      return e.getStatus().getCode();
    }
  }

  @Test
  void passingFreshAttestationIsAccepted() {
    assertThatCode(() -> StatusPolicy.check(config(true, Duration.ofMinutes(5)),
        status(OperationalState.GET_QUOTE, AttestationStatus.PASS, NOW.minusSeconds(10)), NOW)).doesNotThrowAnyException();
  }

  @Test
  void aNodeKeylimeNeverAttestedIsNotAdmittedEvenWithoutAnAgeBound() {
    // pull mode: PASS follows from state 3 alone, so a node just enrolled reads PASS before any quote passed
    for (Duration maxAge : new Duration[] {null, Duration.ofMinutes(5)}) {
      assertThatThrownBy(() -> StatusPolicy.check(config(true, maxAge),
          status(OperationalState.GET_QUOTE, AttestationStatus.PASS, null), NOW))
          .isInstanceOfSatisfying(StatusException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(e.getStatus().getDescription()).contains("last successful attestation of agent u-1 is missing")
                .contains("not attested the node successfully yet");
          });
    }
    assertThat(code(config(false, null), status(OperationalState.GET_QUOTE, null, null))).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(config(true, null), status(OperationalState.GET_QUOTE, AttestationStatus.PASS, NOW.minusSeconds(86_400 * 30))))
        .isEqualTo(Status.Code.OK);
  }

  @Test
  void aLastSuccessAheadOfThisClockIsAWrongClockNotAFreshAttestation() {
    ServerConfig c = config(true, Duration.ofMinutes(5));
    assertThat(code(c, status(OperationalState.GET_QUOTE, AttestationStatus.PASS, NOW.plusSeconds(59)))).isEqualTo(Status.Code.OK);
    assertThatThrownBy(() -> StatusPolicy.check(c,
        status(OperationalState.GET_QUOTE, AttestationStatus.PASS, NOW.plus(Duration.ofHours(3))), NOW))
        .isInstanceOfSatisfying(StatusException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(e.getStatus().getDescription()).contains("3h ahead of this spire-server's clock")
              .contains("NTP");
        });
    // without a bound there is nothing a wrong clock could stretch
    assertThat(code(config(true, null), status(OperationalState.GET_QUOTE, AttestationStatus.PASS,
        NOW.plus(Duration.ofHours(3))))).isEqualTo(Status.Code.OK);
  }

  @Test
  void keylimeFailureStatesAreDefinitive() {
    for (OperationalState s : new OperationalState[] {OperationalState.FAILED, OperationalState.INVALID_QUOTE,
        OperationalState.TENANT_FAILED, OperationalState.TERMINATED}) {
      assertThat(code(config(true, null), status(s, AttestationStatus.FAIL, NOW))).as(s.name())
          .isEqualTo(Status.Code.PERMISSION_DENIED);
    }
    assertThat(code(config(true, null), status(null, AttestationStatus.FAIL, NOW))).isEqualTo(Status.Code.PERMISSION_DENIED);
  }

  @Test
  void notYetAttestingPendingOrStaleIsRetryable() {
    assertThat(code(config(true, null), status(OperationalState.START, AttestationStatus.PENDING, null)))
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(config(true, null), status(OperationalState.GET_QUOTE, AttestationStatus.PENDING, null)))
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(config(true, Duration.ofMinutes(1)), status(OperationalState.GET_QUOTE, AttestationStatus.PASS,
        NOW.minusSeconds(61)))).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(config(true, Duration.ofMinutes(1)), status(OperationalState.GET_QUOTE, AttestationStatus.PASS, null)))
        .isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void theDefaultPolicyWantsAFreshPassAndNoRetryState() throws Exception {
    ServerConfig defaults = ServerConfig.parse("example.org", TestPki.create().pluginData(""));
    assertThat(code(defaults, status(OperationalState.GET_QUOTE, AttestationStatus.PASS, NOW.minusSeconds(240))))
        .isEqualTo(Status.Code.OK);
    assertThat(code(defaults, status(OperationalState.PROVIDE_V, AttestationStatus.PASS, NOW.minusSeconds(240))))
        .isEqualTo(Status.Code.OK);
    // A node that blocks its verifier: Keylime retries, and its last PASS grows old.
    assertThat(code(defaults, status(OperationalState.GET_QUOTE, AttestationStatus.PASS, NOW.minusSeconds(301))))
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(defaults, status(OperationalState.GET_QUOTE_RETRY, AttestationStatus.PASS, NOW.minusSeconds(10))))
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(defaults, status(OperationalState.PROVIDE_V_RETRY, AttestationStatus.PASS, NOW.minusSeconds(10))))
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(code(defaults, status(OperationalState.GET_QUOTE, AttestationStatus.PASS, null)))
        .isEqualTo(Status.Code.UNAVAILABLE);

    ServerConfig optedOut = ServerConfig.parse("example.org", TestPki.create().pluginData(
        "attestation_policy {\n max_attestation_age = \"0\"\n}\n"));
    assertThat(code(optedOut, status(OperationalState.GET_QUOTE, AttestationStatus.PASS, NOW.minus(Duration.ofDays(30)))))
        .isEqualTo(Status.Code.OK);
  }

  @Test
  void aRetryStateSaysTheVerifierCannotReachTheNode() {
    assertThatThrownBy(() -> StatusPolicy.check(config(true, Duration.ofMinutes(5)),
        status(OperationalState.GET_QUOTE_RETRY, AttestationStatus.PASS, NOW.minusSeconds(5)), NOW))
        .hasMessageContaining("'Get Quote (retry)'").hasMessageContaining("cannot reach the node")
        .hasMessageContaining("accepted_states can list get_quote_retry");
  }

  @Test
  void aVerifierWithoutAttestationStatusNeedsTheOperatorsDecision() {
    assertThat(code(config(true, null), status(OperationalState.GET_QUOTE, null, NOW))).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(code(config(false, null), status(OperationalState.GET_QUOTE, null, NOW))).isEqualTo(Status.Code.OK);
  }

  @Test
  void failureMessagesNameTheAgentAndKeylimesEvent() {
    assertThatThrownBy(() -> StatusPolicy.check(config(true, null), status(OperationalState.FAILED, AttestationStatus.FAIL, NOW), NOW))
        .hasMessageContaining("u-1").hasMessageContaining("'Failed'").hasMessageContaining("internal.verifier.not_reachable");
  }
}
