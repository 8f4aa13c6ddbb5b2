package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.KeylimeAgentClient;

/**
 * The Keylime agent client of one configuration, kept across attestations while its settings (TLS
 * files re-read at each attestation) are unchanged: the next re-attestation then reuses its
 * kept-alive connection, TLS session and negotiated API version instead of a new handshake. Changed
 * files (a rotated certificate) make a new client. Thread-safe.
 */
final class KeylimeAgentClients {
  private ClientSettings settings;
  private KeylimeAgentClient client;

  synchronized KeylimeAgentClient forSettings(ClientSettings current) {
    if (client == null || !current.equals(settings)) {
      client = new KeylimeAgentClient(current);
      settings = current;
    }
    return client;
  }

  /** The client kept now, if any. */
  synchronized java.util.Optional<KeylimeAgentClient> current() {
    return java.util.Optional.ofNullable(client);
  }
}
