package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.PushAttestation;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.sdk.hcl.Durations;
import io.grpc.Status;
import io.grpc.StatusException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * The status gate for an agent that pushes its evidence (Keylime {@code [verifier] mode = push}):
 * the verifier's latest evaluation of pushed evidence must have passed, within {@code
 * max_attestation_age}. Read from what Keylime 7.14.3 serves for such an agent:
 *
 * <ul>
 *   <li>{@code GET /v3.0/agents/{id}/attestations/latest}: {@code stage} and {@code evaluation} of the
 *       latest attestation and {@code evidence_received_at} (7.14.3 sets no completion time);
 *   <li>{@code GET /v2.x/agents/{id}}: {@code attestation_status} (PASS, FAIL once an evaluation failed,
 *       TIMEOUT once nothing arrived for 5 x {@code quote_interval}, PENDING before the first pass) and
 *       {@code last_successful_attestation}, which cover the moments when the latest attestation is
 *       still awaiting or evaluating its evidence and when the agent has stopped pushing (the latest
 *       attestation then still reads "pass").
 * </ul>
 *
 * {@code operational_state} (always 3, Get Quote, for push agents in 7.14.3) only refuses: a failure
 * or Terminated state is PermissionDenied, as in pull mode; {@code accepted_states} plays no part. A
 * failed evaluation is definitive (PermissionDenied); a node that
 * has not pushed yet or has stopped pushing gets Unavailable, as a pull-mode node the verifier
 * cannot reach.
 */
final class PushStatusPolicy {
  private PushStatusPolicy() {}

  static void check(ServerConfig config, VerifierAgentStatus s, Optional<PushAttestation> latest, Instant now)
      throws StatusException {
    String id = s.agentId();
    Optional<AttestationStatus> status = s.attestationStatus();
    Optional<OperationalState> state = s.operationalState();
    if (state.isPresent() && (state.get().isFailure() || state.get() == OperationalState.TERMINATED)) {
      throw Status.PERMISSION_DENIED.withDescription("the Keylime verifier (push mode) reports agent " + id + " as '"
          + state.get().label() + "': the node failed attestation; investigate it in Keylime before re-enrolling")
          .asException();
    }
    if (latest.isPresent() && latest.get().failed() || status.orElse(null) == AttestationStatus.FAIL) {
      throw Status.PERMISSION_DENIED.withDescription("the Keylime verifier (push mode) failed the evidence agent "
          + id + " pushed" + latest.filter(PushAttestation::failed).flatMap(PushAttestation::evidenceReceivedAt)
              .map(t -> " at " + t).orElse("") + " (attestation_status " + status.map(Enum::name).orElse("absent")
          + "): the node failed attestation; investigate it in Keylime before re-enrolling").asException();
    }
    if (status.orElse(null) == AttestationStatus.TIMEOUT) {
      throw Status.UNAVAILABLE.withDescription("the Keylime verifier (push mode) reports agent " + id
          + " as TIMEOUT: no evidence arrived within its maximum attestation interval (5 x quote_interval); last "
          + "successful attestation " + s.lastSuccessfulAttestation().map(Instant::toString).orElse("never")
          + ". Check keylime_push_model_agent on the node and its route to the verifier").asException();
    }
    // The time of the latest passing evaluation: that attestation's evidence, if it is the latest one;
    // else (the latest is still awaiting or evaluating evidence) the verifier's last success.
    Optional<Instant> passedAt;
    if (latest.isPresent() && latest.get().passed()) {
      passedAt = latest.get().evidenceReceivedAt().or(s::lastSuccessfulAttestation);
    } else if (status.orElse(null) == AttestationStatus.PASS) {
      passedAt = s.lastSuccessfulAttestation();
    } else {
      throw Status.UNAVAILABLE.withDescription("the Keylime verifier (push mode) has no passing evaluation of agent "
          + id + " yet (attestation_status " + status.map(Enum::name).orElse("absent") + ", latest attestation "
          + latest.map(a -> a.stage() + "/" + a.evaluation()).orElse("none")
          + "): wait for the node's first pushed evidence to pass").asException();
    }
    StatusPolicy.checkFresh(config, passedAt, now, "the Keylime verifier's latest passing evaluation of evidence "
        + "pushed by agent " + id, ": the node has stopped pushing (check keylime_push_model_agent on it), or the "
        + "verifier's clock is behind this host's");
  }
}
