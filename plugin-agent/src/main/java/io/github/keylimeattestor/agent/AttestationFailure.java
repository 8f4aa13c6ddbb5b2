package io.github.keylimeattestor.agent;

import io.grpc.Status;
import io.grpc.StatusException;

/**
 * Why this attestation cannot go on, with the gRPC code SPIRE gets (DESIGN.md section 4) and a
 * message that tells the operator what to check. Never carries key material.
 */
final class AttestationFailure extends Exception {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;

  AttestationFailure(Status.Code code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /** The TPM, the Keylime agent or a file is not reachable or not there yet: SPIRE retries. */
  static AttestationFailure unavailable(String message, Throwable cause) {
    return new AttestationFailure(Status.Code.UNAVAILABLE, message, cause);
  }

  /** Something on this node needs the operator (wrong file, wrong key, TLS setup). */
  static AttestationFailure precondition(String message, Throwable cause) {
    return new AttestationFailure(Status.Code.FAILED_PRECONDITION, message, cause);
  }

  static AttestationFailure invalidArgument(String message, Throwable cause) {
    return new AttestationFailure(Status.Code.INVALID_ARGUMENT, message, cause);
  }

  Status.Code code() {
    return code;
  }

  StatusException toStatus() {
    return Status.fromCode(code).withDescription(getMessage()).asException();
  }
}
