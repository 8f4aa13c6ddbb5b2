package io.github.keylimeattestor.tpm.structure;

/**
 * A loadable key: its public area and the contents of its TPM2B_PRIVATE (without the size
 * prefix, as rust-keylime stores {@code ak_private}).
 */
public record KeyBlob(TpmPublic publicArea, byte[] privateBlob) {
  public KeyBlob {
    privateBlob = privateBlob.clone();
  }

  @Override
  public byte[] privateBlob() {
    return privateBlob.clone();
  }
}
