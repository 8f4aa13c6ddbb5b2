package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/** TPM2_Quote. {@code inScheme} may be {@link Scheme#NULL} to use the key's own scheme. */
public record Quote(int signHandle, Auth auth, byte[] qualifyingData, Scheme inScheme,
    PcrSelection selection) implements TpmCommand<AttestResponse> {
  @Override
  public int commandCode() {
    return CommandCode.QUOTE;
  }

  @Override
  public int[] handles() {
    return new int[] {signHandle};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(auth);
  }

  @Override
  public void parameters(TpmWriter w) {
    w.tpm2b(qualifyingData);
    inScheme.marshal(w);
    selection.marshal(w);
  }

  @Override
  public AttestResponse response(int[] h, TpmReader p) throws TpmFormatException {
    return AttestResponse.read(p);
  }
}
