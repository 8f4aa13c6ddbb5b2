package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/** TPM2_PCR_Extend of one digest (TPML_DIGEST_VALUES with one TPMT_HA). */
public record PcrExtend(int pcr, Auth auth, int hashAlg, byte[] digest) implements TpmCommand<Void> {
  public PcrExtend(int pcr, int hashAlg, byte[] digest) {
    this(pcr, Auth.empty(), hashAlg, digest);
  }

  @Override
  public int commandCode() {
    return CommandCode.PCR_EXTEND;
  }

  @Override
  public int[] handles() {
    return new int[] {pcr};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(auth);
  }

  @Override
  public void parameters(TpmWriter w) {
    w.u32(1).u16(hashAlg).bytes(digest);
  }

  @Override
  public Void response(int[] h, TpmReader p) {
    return null;
  }
}
