package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/** TPM2_Certify: {@code signHandle} attests that {@code objectHandle} is loaded in this TPM. */
public record Certify(int objectHandle, Auth objectAuth, int signHandle, Auth signAuth,
    byte[] qualifyingData, Scheme inScheme) implements TpmCommand<AttestResponse> {
  @Override
  public int commandCode() {
    return CommandCode.CERTIFY;
  }

  @Override
  public int[] handles() {
    return new int[] {objectHandle, signHandle};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(objectAuth, signAuth);
  }

  @Override
  public void parameters(TpmWriter w) {
    w.tpm2b(qualifyingData);
    inScheme.marshal(w);
  }

  @Override
  public AttestResponse response(int[] h, TpmReader p) throws TpmFormatException {
    return AttestResponse.read(p);
  }
}
