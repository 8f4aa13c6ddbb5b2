package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.IdentityVerification;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.PushAttestation;
import io.github.keylimeattestor.keylime.RegistrarAgent;
import io.github.keylimeattestor.keylime.RegistrarClient;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.keylime.VerifierClient;
import java.util.Optional;

/** The Keylime reads an attestation needs (the fourth only for agents in push mode). */
interface Keylime {
  /** The registrar's record, possibly cached for a few seconds ({@link RegistrarClient}). */
  RegistrarAgent registrarAgent(String agentId) throws KeylimeException;

  /** After a check failed against {@code used}: the record read again, if it changed. */
  default Optional<RegistrarAgent> registrarAgentNewerThan(RegistrarAgent used) throws KeylimeException {
    return Optional.empty();
  }

  VerifierAgentStatus verifierStatus(String agentId) throws KeylimeException;

  IdentityVerification verifyIdentity(String agentId, String quote, String nonce, String hashAlg) throws KeylimeException;

  /** A push-mode verifier's latest attestation of the agent (empty: none yet; also what a stand-in without one says). */
  default java.util.Optional<PushAttestation> latestPushAttestation(String agentId) throws KeylimeException {
    return java.util.Optional.empty();
  }

  /** The real thing: the registrar and verifier over mTLS. */
  static Keylime over(RegistrarClient registrar, VerifierClient verifier) {
    return new Keylime() {
      @Override
      public RegistrarAgent registrarAgent(String agentId) throws KeylimeException {
        return registrar.getAgent(agentId);
      }

      @Override
      public Optional<RegistrarAgent> registrarAgentNewerThan(RegistrarAgent used) throws KeylimeException {
        return registrar.newerThan(used);
      }

      @Override
      public VerifierAgentStatus verifierStatus(String agentId) throws KeylimeException {
        return verifier.getAgent(agentId);
      }

      @Override
      public IdentityVerification verifyIdentity(String agentId, String quote, String nonce, String hashAlg)
          throws KeylimeException {
        return verifier.verifyIdentity(agentId, quote, nonce, hashAlg);
      }

      @Override
      public java.util.Optional<PushAttestation> latestPushAttestation(String agentId) throws KeylimeException {
        return verifier.latestPushAttestation(agentId);
      }
    };
  }
}
