package io.github.keylimeattestor.server.revocation;

import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.keylime.VerifierBulkStatus;
import io.github.keylimeattestor.keylime.VerifierClient;
import java.util.Optional;

/** The two verifier reads the watch makes (failover across verifier_urls is the client's). */
interface VerifierSource {
  VerifierBulkStatus bulk(Optional<String> verifierId) throws KeylimeException;

  VerifierAgentStatus one(String uuid) throws KeylimeException;

  static VerifierSource over(VerifierClient client) {
    return new VerifierSource() {
      @Override
      public VerifierBulkStatus bulk(Optional<String> verifierId) throws KeylimeException {
        return client.getAgentsBulk(verifierId, VerifierClient.DEFAULT_BULK_MAX_BYTES);
      }

      @Override
      public VerifierAgentStatus one(String uuid) throws KeylimeException {
        return client.getAgent(uuid);
      }
    };
  }
}
