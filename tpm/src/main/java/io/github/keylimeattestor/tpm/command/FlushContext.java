package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;

/** TPM2_FlushContext (the handle is a parameter, not in the handle area). */
public record FlushContext(int flushHandle) implements TpmCommand<Void> {
  @Override
  public int commandCode() {
    return CommandCode.FLUSH_CONTEXT;
  }

  @Override
  public void parameters(TpmWriter w) {
    w.u32(flushHandle);
  }

  @Override
  public Void response(int[] h, TpmReader p) {
    return null;
  }
}
