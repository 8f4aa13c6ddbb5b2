package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.util.List;

/**
 * Evidence that passed every check of {@link EvidenceVerifier}: only these fields may feed the
 * agent ID and selectors.
 */
public record VerifiedEvidence(
    KeylimeAgentId agentId,
    TpmPublic ak,
    TpmPublic appKey,
    Attest quote,
    PcrBlob pcrs,
    Attest appKeyCertification,
    List<CertifiedSvidKey> svidKeys) {

  /** An agent SVID key the AK certified in this attestation: TPM-resident, signing only. */
  public record CertifiedSvidKey(String keyId, TpmPublic publicArea, Bytes spki) {}

  public VerifiedEvidence {
    svidKeys = List.copyOf(svidKeys);
  }

  /** Evidence without SVID keys (wire version 1, or an agent without the TPM KeyManager). */
  public VerifiedEvidence(KeylimeAgentId agentId, TpmPublic ak, TpmPublic appKey, Attest quote, PcrBlob pcrs,
      Attest appKeyCertification) {
    this(agentId, ak, appKey, quote, pcrs, appKeyCertification, List.of());
  }
}
