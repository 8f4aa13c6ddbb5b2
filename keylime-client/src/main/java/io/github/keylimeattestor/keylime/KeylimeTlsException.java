package io.github.keylimeattestor.keylime;

import java.net.URI;

/**
 * The TLS handshake failed. {@link #refusedBy()} says which side refused, and the message names
 * the certificate subjects and issuers involved, so that an operator knows which CA bundle or
 * {@code trusted_client_ca} list to fix. Not retryable: the configuration must change.
 */
public final class KeylimeTlsException extends KeylimeException {
  private static final long serialVersionUID = 1L;

  /** Which side of the handshake refused the connection. */
  public enum RefusedBy {
    /** This client refused the server's certificate (untrusted issuer, wrong name, expired). */
    CLIENT,
    /** The server refused this client's certificate (or that none was sent). */
    SERVER,
    /** The handshake failed for another reason (protocol or cipher mismatch, not TLS at all). */
    UNKNOWN
  }

  private final RefusedBy refusedBy;

  KeylimeTlsException(String message, URI uri, RefusedBy refusedBy, Throwable cause) {
    super(message, uri, cause);
    this.refusedBy = refusedBy;
  }

  public RefusedBy refusedBy() {
    return refusedBy;
  }
}
