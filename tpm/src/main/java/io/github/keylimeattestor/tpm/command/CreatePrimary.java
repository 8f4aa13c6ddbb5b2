package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/** TPM2_CreatePrimary under a hierarchy (e.g. TPM_RH_ENDORSEMENT, TPM_RH_OWNER). */
public record CreatePrimary(int primaryHandle, Auth auth, byte[] userAuth, TpmPublic template)
    implements TpmCommand<CreatePrimary.Response> {

  public record Response(int handle, TpmPublic outPublic, Bytes name) {}

  /** With empty hierarchy and key passwords. */
  public static CreatePrimary of(int hierarchy, TpmPublic template) {
    return new CreatePrimary(hierarchy, Auth.empty(), new byte[0], template);
  }

  @Override
  public int commandCode() {
    return CommandCode.CREATE_PRIMARY;
  }

  @Override
  public int[] handles() {
    return new int[] {primaryHandle};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(auth);
  }

  @Override
  public void parameters(TpmWriter w) {
    Creation.parameters(w, userAuth, template);
  }

  @Override
  public int responseHandleCount() {
    return 1;
  }

  @Override
  public Response response(int[] h, TpmReader p) throws TpmFormatException {
    TpmPublic pub = TpmPublic.parseTpm2b(p);
    Creation.skipCreationOutputs(p);
    return new Response(h[0], pub, p.tpm2bValue(66, "name"));
  }
}
