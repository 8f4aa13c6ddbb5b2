package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;

/** TPM2_ContextSave: returns the marshalled TPMS_CONTEXT, opaque to the caller. */
public record ContextSave(int saveHandle) implements TpmCommand<byte[]> {
  static final int MAX_CONTEXT_BLOB = 4096;

  @Override
  public int commandCode() {
    return CommandCode.CONTEXT_SAVE;
  }

  @Override
  public int[] handles() {
    return new int[] {saveHandle};
  }

  @Override
  public byte[] response(int[] h, TpmReader p) throws TpmFormatException {
    int start = p.position();
    p.u64("sequence");
    p.u32("savedHandle");
    p.u32("hierarchy");
    p.tpm2b(MAX_CONTEXT_BLOB, "contextBlob");
    return p.slice(start);
  }
}
