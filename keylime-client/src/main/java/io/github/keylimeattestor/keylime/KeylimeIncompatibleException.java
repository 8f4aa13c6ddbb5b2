package io.github.keylimeattestor.keylime;

import java.net.URI;

/**
 * The peer offers no API version this client supports, or the negotiated version lacks the
 * requested operation (for example {@code /agent/info} needs Keylime agent API 2.2). The operator
 * must upgrade the Keylime component or this plugin.
 */
public final class KeylimeIncompatibleException extends KeylimeException {
  private static final long serialVersionUID = 1L;

  KeylimeIncompatibleException(String message, URI uri) {
    super(message, uri, null);
  }
}
