package io.github.keylimeattestor.keylime;

import java.util.Optional;

/** The verifier's {@code attestation_status} (Keylime 7.14.0+). */
public enum AttestationStatus {
  PASS,
  FAIL,
  PENDING,
  /** Push mode: the agent did not report within the allowed interval. */
  TIMEOUT;

  public static Optional<AttestationStatus> fromString(String s) {
    for (AttestationStatus a : values()) {
      if (a.name().equals(s)) {
        return Optional.of(a);
      }
    }
    return Optional.empty();
  }
}
