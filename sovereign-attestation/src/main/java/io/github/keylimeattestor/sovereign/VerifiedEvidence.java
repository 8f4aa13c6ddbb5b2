package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.TpmPublic;

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
    Attest appKeyCertification) {}
