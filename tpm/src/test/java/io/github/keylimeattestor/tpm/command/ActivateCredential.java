package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/**
 * TPM2_ActivateCredential: {@code keyHandle} (the EK) decrypts a credential bound to the Name of
 * {@code activateHandle} (the AK).
 *
 * @param credentialBlob TPM2B_ID_OBJECT contents (no size)
 * @param secret TPM2B_ENCRYPTED_SECRET contents (no size)
 */
public record ActivateCredential(int activateHandle, Auth activateAuth, int keyHandle, Auth keyAuth,
    byte[] credentialBlob, byte[] secret) implements TpmCommand<byte[]> {
  @Override
  public int commandCode() {
    return CommandCode.ACTIVATE_CREDENTIAL;
  }

  @Override
  public int[] handles() {
    return new int[] {activateHandle, keyHandle};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(activateAuth, keyAuth);
  }

  @Override
  public void parameters(TpmWriter w) {
    w.tpm2b(credentialBlob).tpm2b(secret);
  }

  @Override
  public byte[] response(int[] h, TpmReader p) throws TpmFormatException {
    return p.tpm2b(64, "certInfo");
  }
}
