package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmSignature;

/**
 * What TPM2_Quote and TPM2_Certify return.
 *
 * @param attest the TPMS_ATTEST bytes (without the TPM2B size)
 * @param signature the TPMT_SIGNATURE bytes
 */
public record AttestResponse(byte[] attest, byte[] signature) {
  public AttestResponse {
    attest = attest.clone();
    signature = signature.clone();
  }

  @Override
  public byte[] attest() {
    return attest.clone();
  }

  @Override
  public byte[] signature() {
    return signature.clone();
  }

  static AttestResponse read(TpmReader p) throws TpmFormatException {
    byte[] attest = p.tpm2b(2048, "TPM2B_ATTEST");
    int start = p.position();
    TpmSignature.parse(p);
    return new AttestResponse(attest, p.slice(start));
  }
}
