package io.github.keylimeattestor.tpm;

/**
 * Malformed, truncated, oversized or trailing input in any parser of this module, and any
 * structure this module does not support. The only exception type parsers throw for bad input.
 */
public final class TpmFormatException extends TpmException {
  private static final long serialVersionUID = 1L;

  public TpmFormatException(String message) {
    super(message);
  }

  public TpmFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
