package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;

/** TPM2_Startup; {@code Tpm.startup} treats "already started" as no error. */
public record Startup(int startupType) implements TpmCommand<Boolean> {
  public static final int CLEAR = 0x0000;
  public static final int STATE = 0x0001;

  @Override
  public int commandCode() {
    return CommandCode.STARTUP;
  }

  @Override
  public void parameters(TpmWriter w) {
    w.u16(startupType);
  }

  @Override
  public Boolean response(int[] handles, TpmReader params) {
    return Boolean.TRUE;
  }
}
