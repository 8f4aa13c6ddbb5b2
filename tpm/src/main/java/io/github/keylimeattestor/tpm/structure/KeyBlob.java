package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;

/**
 * A loadable key: its public area and the contents of its TPM2B_PRIVATE (without the size
 * prefix, as rust-keylime stores {@code ak_private}).
 */
public record KeyBlob(TpmPublic publicArea, Bytes privateBlob) {
  public static final int DEFAULT_LIMIT = 4096;
  private static final int MAX_PRIVATE = 2048;

  /** File form for storing a key (e.g. the App Key): TPM2B_PRIVATE || TPM2B_PUBLIC, as TPM2_Load takes them. */
  public byte[] marshal() {
    return new TpmWriter().tpm2b(privateBlob.toByteArray()).bytes(publicArea.marshalTpm2b()).toByteArray();
  }

  public static KeyBlob parse(byte[] input) throws TpmFormatException {
    return parse(input, DEFAULT_LIMIT);
  }

  public static KeyBlob parse(byte[] input, int limit) throws TpmFormatException {
    TpmReader r = TpmReader.bounded(input, limit, "key blob");
    byte[] priv = r.tpm2b(MAX_PRIVATE, "TPM2B_PRIVATE");
    TpmPublic pub = TpmPublic.parseTpm2b(r);
    r.expectEnd("key blob");
    return new KeyBlob(pub, Bytes.copyFrom(priv));
  }
}
