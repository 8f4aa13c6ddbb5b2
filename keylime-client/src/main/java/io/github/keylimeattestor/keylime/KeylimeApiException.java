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
  private final boolean keylimeEnvelope;

  /** An error in Keylime's own JSON envelope ({@code code}/{@code status}, or {@code errors}). */
  public KeylimeApiException(String message, URI uri, int httpStatus, String keylimeMessage) {
    this(message, uri, httpStatus, keylimeMessage, true);
  }

  /**
   * @param keylimeEnvelope whether the body was Keylime's JSON envelope: a 404 without it comes from
   *     something else at that URL (a proxy, a wrong path prefix), not from Keylime about an agent
   */
  public KeylimeApiException(String message, URI uri, int httpStatus, String keylimeMessage, boolean keylimeEnvelope) {
    super(message, uri, null);
    this.httpStatus = httpStatus;
    this.keylimeMessage = keylimeMessage;
    this.keylimeEnvelope = keylimeEnvelope;
  }

  public int httpStatus() {
    return httpStatus;
  }

  /** Keylime's message, or an empty string if the body carried none. */
  public String keylimeMessage() {
    return keylimeMessage;
  }

  /**
   * 404 in Keylime's envelope: for the registrar, the agent is not registered or not yet activated;
   * for the verifier, the agent is not enrolled in this verifier. A bare 404 (no envelope) is not
   * this: the revocation watch would otherwise take a wrong URL for every agent deleted.
   */
  public boolean isNotFound() {
    return httpStatus == 404 && keylimeEnvelope;
  }

  /** 401/403: the client certificate is not accepted as an admin credential. */
  public boolean isForbidden() {
    return httpStatus == 401 || httpStatus == 403;
  }
}
