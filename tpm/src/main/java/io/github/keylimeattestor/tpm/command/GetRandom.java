package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;

/** TPM2_GetRandom; the TPM may return fewer bytes than asked (at most a digest's size). */
public record GetRandom(int bytesRequested) implements TpmCommand<byte[]> {
  @Override
  public int commandCode() {
    return CommandCode.GET_RANDOM;
  }

  @Override
  public void parameters(TpmWriter w) {
    w.u16(bytesRequested);
  }

  @Override
  public byte[] response(int[] handles, TpmReader p) throws TpmFormatException {
    return p.tpm2b(Math.min(bytesRequested, 64), "randomBytes");
  }
}
