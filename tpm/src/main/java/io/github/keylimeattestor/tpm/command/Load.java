package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/** TPM2_Load: returns the transient handle and the object's Name. */
public record Load(int parentHandle, Auth parentAuth, KeyBlob key) implements TpmCommand<Load.Response> {
  public record Response(int handle, Bytes name) {}

  @Override
  public int commandCode() {
    return CommandCode.LOAD;
  }

  @Override
  public int[] handles() {
    return new int[] {parentHandle};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(parentAuth);
  }

  @Override
  public void parameters(TpmWriter w) {
    w.tpm2b(key.privateBlob().toByteArray());
    w.bytes(key.publicArea().marshalTpm2b());
  }

  @Override
  public int responseHandleCount() {
    return 1;
  }

  @Override
  public Response response(int[] h, TpmReader p) throws TpmFormatException {
    return new Response(h[0], p.tpm2bValue(66, "name"));
  }
}
