package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmSignature;

/**
 * What TPM2_Quote and TPM2_Certify return.
 *
 * @param attest the TPMS_ATTEST bytes (without the TPM2B size)
 * @param signature the TPMT_SIGNATURE bytes
 */
public record AttestResponse(Bytes attest, Bytes signature) {
  static AttestResponse read(TpmReader p) throws TpmFormatException {
    Bytes attest = p.tpm2bValue(2048, "TPM2B_ATTEST");
    int start = p.position();
    TpmSignature.parse(p);
    return new AttestResponse(attest, Bytes.copyFrom(p.slice(start)));
  }
}
