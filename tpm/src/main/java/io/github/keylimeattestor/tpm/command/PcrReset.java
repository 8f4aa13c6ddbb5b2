package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import java.util.List;

/** TPM2_PCR_Reset of a resettable PCR (e.g. 16, the debug PCR) at the current locality. */
public record PcrReset(int pcr, Auth auth) implements TpmCommand<Void> {
  public PcrReset(int pcr) {
    this(pcr, Auth.empty());
  }

  @Override
  public int commandCode() {
    return CommandCode.PCR_RESET;
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
  public Void response(int[] h, TpmReader p) {
    return null;
  }
}
