package io.github.keylimeattestor.keylime;

import java.net.URI;

/**
 * Keylime answered with an HTTP client error (4xx). {@link #keylimeMessage()} is Keylime's own
 * explanation (its {@code status} field, or the {@code detail} of its {@code errors} list).
 */
public final class KeylimeApiException extends KeylimeException {
  private static final long serialVersionUID = 1L;

  private final int httpStatus;
  private final String keylimeMessage;

  public KeylimeApiException(String message, URI uri, int httpStatus, String keylimeMessage) {
    super(message, uri, null);
    this.httpStatus = httpStatus;
    this.keylimeMessage = keylimeMessage;
  }

  public int httpStatus() {
    return httpStatus;
  }

  /** Keylime's message, or an empty string if the body carried none. */
  public String keylimeMessage() {
    return keylimeMessage;
  }

  /**
   * 404: for the registrar, the agent is not registered or not yet activated; for the verifier,
   * the agent is not enrolled in this verifier.
   */
  public boolean isNotFound() {
    return httpStatus == 404;
  }

  /** 401/403: the client certificate is not accepted as an admin credential. */
  public boolean isForbidden() {
    return httpStatus == 401 || httpStatus == 403;
  }
}
