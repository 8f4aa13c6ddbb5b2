package io.github.keylimeattestor.keylime;

import java.net.URI;
import java.util.Optional;

/**
 * Any failure talking to a Keylime component (registrar, verifier, Keylime agent).
 *
 * <p>The subtypes are distinct so a caller can map them to an outcome without parsing messages:
 *
 * <ul>
 *   <li>{@link KeylimeUnavailableException}: nothing answered in time; retry later.
 *   <li>{@link KeylimeTlsException}: the TLS handshake was refused by one side; fix certificates.
 *   <li>{@link KeylimeApiException}: Keylime answered with an HTTP error and its own message.
 *   <li>{@link KeylimeMalformedResponseException}: Keylime answered something this client cannot
 *       read safely.
 *   <li>{@link KeylimeIncompatibleException}: the peer speaks no API version this client supports.
 * </ul>
 *
 * <p>Messages never contain key material.
 */
public abstract sealed class KeylimeException extends Exception
    permits KeylimeUnavailableException,
        KeylimeTlsException,
        KeylimeApiException,
        KeylimeMalformedResponseException,
        KeylimeIncompatibleException {

  private static final long serialVersionUID = 1L;

  private final transient URI uri;

  KeylimeException(String message, URI uri, Throwable cause) {
    super(message, cause);
    this.uri = uri;
  }

  /** The request (or base) URI the failure relates to, if known. */
  public Optional<URI> uri() {
    return Optional.ofNullable(uri);
  }

  /** Whether trying again later (unchanged) may succeed. */
  public boolean isRetryable() {
    return false;
  }
}
