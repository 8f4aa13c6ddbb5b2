package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/** TPM2_Create: a new key under a loaded parent; returns the loadable blob. */
public record Create(int parentHandle, Auth parentAuth, byte[] userAuth, TpmPublic template)
    implements TpmCommand<KeyBlob> {
  /** Limit for TPM2B_PRIVATE (swtpm's are about 200 bytes; MAX_CONTEXT is larger). */
  public static final int MAX_PRIVATE = 2048;

  @Override
  public int commandCode() {
    return CommandCode.CREATE;
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
    Creation.parameters(w, userAuth, template);
  }

  @Override
  public KeyBlob response(int[] h, TpmReader p) throws TpmFormatException {
    byte[] priv = p.tpm2b(MAX_PRIVATE, "outPrivate");
    TpmPublic pub = TpmPublic.parseTpm2b(p);
    Creation.skipCreationOutputs(p);
    return new KeyBlob(pub, Bytes.copyFrom(priv));
  }
}
