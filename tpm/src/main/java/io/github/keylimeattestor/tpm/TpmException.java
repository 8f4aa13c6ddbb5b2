package io.github.keylimeattestor.tpm;

/** Base of the checked exceptions of this module. */
public abstract class TpmException extends Exception {
  private static final long serialVersionUID = 1L;

  protected TpmException(String message) {
    super(message);
  }

  protected TpmException(String message, Throwable cause) {
    super(message, cause);
  }
}
