package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;

/** TPM2_ContextLoad of a TPMS_CONTEXT from {@link ContextSave}; returns the new handle. */
public record ContextLoad(byte[] context) implements TpmCommand<Integer> {
  @Override
  public int commandCode() {
    return CommandCode.CONTEXT_LOAD;
  }

  @Override
  public void parameters(TpmWriter w) {
    w.bytes(context);
  }

  @Override
  public int responseHandleCount() {
    return 1;
  }

  @Override
  public Integer response(int[] h, TpmReader p) throws TpmFormatException {
    return h[0];
  }
}
