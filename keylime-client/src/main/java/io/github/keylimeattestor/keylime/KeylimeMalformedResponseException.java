package io.github.keylimeattestor.keylime;

import java.net.URI;

/**
 * Keylime answered, but the answer is not what this client can read safely: not JSON, a missing
 * or mistyped field, bad base64, an unparsable certificate or TPM structure, an unknown state
 * code, or an oversized body. The message names the field.
 */
public final class KeylimeMalformedResponseException extends KeylimeException {
  private static final long serialVersionUID = 1L;

  private final boolean tooLarge;

  public KeylimeMalformedResponseException(String message, URI uri, Throwable cause) {
    this(message, uri, cause, false);
  }

  public KeylimeMalformedResponseException(String message, URI uri, Throwable cause, boolean tooLarge) {
    super(message, uri, cause);
    this.tooLarge = tooLarge;
  }

  /** The body was larger than the caller's limit (and was not read further). */
  public boolean isTooLarge() {
    return tooLarge;
  }
}
