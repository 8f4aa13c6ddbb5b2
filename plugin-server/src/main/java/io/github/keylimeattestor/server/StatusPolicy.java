package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.sdk.hcl.Durations;
import io.grpc.Status;
import io.grpc.StatusException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * The verifier's judgement of the node must be a passing, fresh attestation. A Keylime failure
 * state is definitive (PermissionDenied: SPIRE's agent stops); a node still being enrolled, or
 * whose last success is stale while Keylime retries, gets Unavailable (the agent retries).
 */
final class StatusPolicy {
  private StatusPolicy() {}

  static void check(ServerConfig config, VerifierAgentStatus s, Instant now) throws StatusException {
    String id = s.agentId();
    String event = s.lastEventId().map(e -> " (last event " + e + ")").orElse("");
    if (s.operationalState().isPresent()) {
      OperationalState state = s.operationalState().get();
      if (state.isFailure() || state == OperationalState.TERMINATED) {
        throw Status.PERMISSION_DENIED.withDescription("the Keylime verifier reports agent " + id + " as '"
            + state.label() + "'" + event + ": the node failed attestation; investigate it in Keylime before re-enrolling")
            .asException();
      }
      if (!config.acceptedStates().contains(state)) {
        boolean retry = state == OperationalState.GET_QUOTE_RETRY || state == OperationalState.PROVIDE_V_RETRY;
        throw Status.UNAVAILABLE.withDescription("the Keylime verifier reports agent " + id + " as '" + state.label()
            + "', not (yet) in an accepted state " + config.acceptedStates()
            + (retry ? ": the verifier cannot reach the node right now (check the node and its Keylime agent; "
                + "attestation_policy.accepted_states can list " + state.name().toLowerCase(java.util.Locale.ROOT)
                + ", within max_attestation_age)" : "")).asException();
      }
    }
    if (config.requirePass()) {
      if (s.attestationStatus().isEmpty()) {
        throw Status.FAILED_PRECONDITION.withDescription("the Keylime verifier sends no attestation_status (Keylime "
            + "older than 7.14?): upgrade it, or set attestation_policy.require_status_pass = false").asException();
      }
      AttestationStatus status = s.attestationStatus().get();
      if (status == AttestationStatus.FAIL) {
        throw Status.PERMISSION_DENIED.withDescription("the Keylime verifier reports attestation_status FAIL for agent "
            + id + event).asException();
      }
      if (status != AttestationStatus.PASS) {
        throw Status.UNAVAILABLE.withDescription("the Keylime verifier reports attestation_status " + status
            + " for agent " + id + ": wait for its first successful attestation").asException();
      }
    }
    checkFresh(config, s.lastSuccessfulAttestation(), now,
        "the Keylime verifier's last successful attestation of agent " + id, "");
  }

  /** How far ahead of this host's clock a Keylime time may be before it is taken for a wrong clock. */
  static final Duration MAX_CLOCK_AHEAD = Duration.ofSeconds(60);

  /**
   * A node Keylime never attested successfully is not admitted, whatever max_attestation_age says
   * (pull mode derives PASS from the state alone: a node just enrolled, or one the verifier cannot
   * reach, reads PASS with last_successful_attestation 0). With the bound set, the last success
   * must be within it, and not in the future: a verifier's clock ahead of ours would stretch it.
   */
  static void checkFresh(ServerConfig config, Optional<Instant> passedAt, Instant now, String what, String staleHint)
      throws StatusException {
    if (passedAt.isEmpty()) {
      throw Status.UNAVAILABLE.withDescription(what + " is missing: Keylime has not attested the node successfully "
          + "yet; wait for its first successful attestation").asException();
    }
    Optional<Duration> bound = config.maxAttestationAge();
    if (bound.isEmpty()) {
      return;
    }
    Instant last = passedAt.get();
    if (last.isAfter(now.plus(MAX_CLOCK_AHEAD))) {
      throw Status.UNAVAILABLE.withDescription(what + " is from " + last + ", "
          + Durations.format(Duration.between(now, last).withNanos(0)) + " ahead of this spire-server's clock (" + now
          + "): the verifier's clock or this host's is wrong, and max_attestation_age cannot be checked; keep both "
          + "in sync (NTP)").asException();
    }
    if (last.plus(bound.get()).isBefore(now)) {
      throw Status.UNAVAILABLE.withDescription(what + " is from " + last + ", older than max_attestation_age "
          + Durations.format(bound.get()) + staleHint).asException();
    }
  }
}
