package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/**
 * TPM2_EvictControl: makes a transient object persistent at {@code persistentHandle}, or (with
 * the persistent handle as {@code objectHandle}) removes it.
 */
public record EvictControl(int authHandle, Auth auth, int objectHandle, int persistentHandle)
    implements TpmCommand<Void> {
  @Override
  public int commandCode() {
    return CommandCode.EVICT_CONTROL;
  }

  @Override
  public int[] handles() {
    return new int[] {authHandle, objectHandle};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(auth);
  }

  @Override
  public void parameters(TpmWriter w) {
    w.u32(persistentHandle);
  }

  @Override
  public Void response(int[] h, TpmReader p) {
    return null;
  }
}
