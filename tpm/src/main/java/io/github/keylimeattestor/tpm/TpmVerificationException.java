package io.github.keylimeattestor.tpm;

/** Well-formed evidence that does not verify (wrong signature, nonce, digest, name, ...). */
public final class TpmVerificationException extends TpmException {
  private static final long serialVersionUID = 1L;

  public TpmVerificationException(String message) {
    super(message);
  }
}
