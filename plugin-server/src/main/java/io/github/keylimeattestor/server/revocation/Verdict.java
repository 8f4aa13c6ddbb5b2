package io.github.keylimeattestor.server.revocation;

import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import java.util.Optional;

/** Whether the verifier's record of a node is a failure the watch acts on, and why. */
final class Verdict {
  private Verdict() {}

  /**
   * The failure in {@code s}, if any: operational state Failed, Invalid Quote or Tenant Quote Failed
   * (pull mode), or attestation_status FAIL (push mode, or any mode in Keylime 7.14+).
   */
  static Optional<String> failure(VerifierAgentStatus s) {
    if (s.operationalState().isPresent()) {
      OperationalState st = s.operationalState().get();
      if (st.isFailure()) {
        return Optional.of(st.label() + s.lastEventId().map(e -> " (" + e + ")").orElse(""));
      }
    }
    if (s.attestationStatus().orElse(null) == AttestationStatus.FAIL) {
      return Optional.of("attestation_status FAIL" + s.lastEventId().map(e -> " (" + e + ")").orElse(""));
    }
    return Optional.empty();
  }

  /**
   * Terminated: Keylime's DELETE of a node still under attestation marks it so until its record goes
   * (a failed node's record goes at once). A deletion, also of a healthy node (keylime_tenant -c delete
   * or update), not a failure.
   */
  static boolean beingDeleted(VerifierAgentStatus s) {
    return s.operationalState().orElse(null) == OperationalState.TERMINATED;
  }
}
