package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import java.util.List;

/**
 * A node whose attestation passed every check of {@link EvidenceVerifier#verifyNode}: its Keylime
 * agent ID; the registrar's AK and EK and the App Key the AK certified (keys, Names, selector
 * hashes); what the EK certificate proved; the verified quote and its PCR values; the agent SVID
 * keys the AK certified; and Keylime's verifier record. Only these fields may feed the agent ID and
 * selectors ({@link AgentIdentity#of}).
 */
public record VerifiedNode(
    KeylimeAgentId agentId,
    TpmKey ak,
    TpmKey appKey,
    TpmKey ek,
    EkCertificate.Result ekCertificate,
    Attest quote,
    PcrBlob pcrs,
    List<VerifiedEvidence.CertifiedSvidKey> svidKeys,
    VerifierRecord verifier) {
  public VerifiedNode {
    svidKeys = List.copyOf(svidKeys);
  }
}
