package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.ResponseCode;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.TpmException;
import io.github.keylimeattestor.tpm.TpmResponseException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.io.IOException;

/** TPM2_Startup. Returns true if this call started the TPM, false if it was already started. */
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

  /**
   * Sends TPM2_Startup; TPM_RC_INITIALIZE means "already started" and is not an error.
   *
   * @return true if this call started the TPM, false if it was already started
   */
  public static boolean startUp(Tpm tpm, int startupType) throws IOException, TpmException {
    try {
      return tpm.execute(new Startup(startupType));
    } catch (TpmResponseException e) {
      if (e.rc() == ResponseCode.INITIALIZE) {
        return Boolean.FALSE;
      }
      throw e;
    }
  }
}
