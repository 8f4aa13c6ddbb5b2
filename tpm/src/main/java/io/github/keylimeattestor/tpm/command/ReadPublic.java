package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmReader;

/** TPM2_ReadPublic. */
public record ReadPublic(int objectHandle) implements TpmCommand<ReadPublic.Response> {
  /** The public area, the TPM's Name for it and its qualified name. */
  public record Response(TpmPublic outPublic, Bytes name, Bytes qualifiedName) {}

  @Override
  public int commandCode() {
    return CommandCode.READ_PUBLIC;
  }

  @Override
  public int[] handles() {
    return new int[] {objectHandle};
  }

  @Override
  public Response response(int[] h, TpmReader p) throws TpmFormatException {
    TpmPublic pub = TpmPublic.parseTpm2b(p);
    return new Response(pub, p.tpm2bValue(66, "name"), p.tpm2bValue(66, "qualifiedName"));
  }
}
