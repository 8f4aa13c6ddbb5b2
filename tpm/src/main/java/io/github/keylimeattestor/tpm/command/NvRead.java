package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/** TPM2_NV_Read of {@code size} bytes at {@code offset}; size must be at most NV_BUFFER_MAX. */
public record NvRead(int authHandle, int nvIndex, Auth auth, int size, int offset)
    implements TpmCommand<byte[]> {
  @Override
  public int commandCode() {
    return CommandCode.NV_READ;
  }

  @Override
  public int[] handles() {
    return new int[] {authHandle, nvIndex};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(auth);
  }

  @Override
  public void parameters(TpmWriter w) {
    w.u16(size).u16(offset);
  }

  @Override
  public byte[] response(int[] h, TpmReader p) throws TpmFormatException {
    byte[] data = p.tpm2b(size, "data");
    if (data.length != size) {
      throw new TpmFormatException("NV_Read returned " + data.length + " of " + size + " bytes");
    }
    return data;
  }
}
