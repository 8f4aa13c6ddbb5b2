package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/**
 * TPM2_Sign of an externally computed digest by an unrestricted signing key: the validation ticket
 * is the NULL ticket (TPM_ST_HASHCHECK, TPM_RH_NULL, empty digest), which the TPM accepts only for
 * unrestricted keys, so a restricted key (an AK) can never be made to sign arbitrary data here.
 */
public record Sign(int keyHandle, Auth auth, byte[] digest, Scheme inScheme) implements TpmCommand<TpmSignature> {
  static final int ST_HASHCHECK = 0x8024;

  @Override
  public int commandCode() {
    return CommandCode.SIGN;
  }

  @Override
  public int[] handles() {
    return new int[] {keyHandle};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(auth);
  }

  @Override
  public void parameters(TpmWriter w) {
    w.tpm2b(digest);
    inScheme.marshal(w);
    w.u16(ST_HASHCHECK);
    w.u32(Handles.RH_NULL);
    w.tpm2b(new byte[0]);
  }

  @Override
  public TpmSignature response(int[] h, TpmReader p) throws TpmFormatException {
    return TpmSignature.parse(p);
  }
}
