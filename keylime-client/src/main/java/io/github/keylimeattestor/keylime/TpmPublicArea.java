package io.github.keylimeattestor.keylime;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.security.PublicKey;
import java.util.Arrays;

/**
 * A TPM2B_PUBLIC as Keylime stores it ({@code ek_tpm}, {@code aik_tpm}): the exact bytes, and
 * their parsed form ({@link TpmPublic} from the {@code tpm} module). Construction fails unless the
 * bytes are one well-formed RSA or ECC TPM2B_PUBLIC holding a valid public key.
 */
public final class TpmPublicArea {
  private final Bytes tpm2b;
  private final TpmPublic parsed;
  private final PublicKey publicKey;
  private final Bytes name;

  private TpmPublicArea(Bytes tpm2b, TpmPublic parsed, PublicKey key, Bytes name) {
    this.tpm2b = tpm2b;
    this.parsed = parsed;
    this.publicKey = key;
    this.name = name;
  }

  /** Parses a TPM2B_PUBLIC (UINT16 size + TPMT_PUBLIC) occupying all of {@code tpm2b}. */
  public static TpmPublicArea fromTpm2b(byte[] tpm2b) throws TpmFormatException {
    Bytes copy = Bytes.copyFrom(tpm2b);
    TpmPublic p = TpmPublic.parseTpm2b(copy.toByteArray());
    return new TpmPublicArea(copy, p, p.toPublicKey(), Bytes.copyFrom(p.name()));
  }

  /** The TPM2B_PUBLIC bytes exactly as Keylime sent them (size prefix included). */
  public byte[] tpm2bPublic() {
    return tpm2b.toByteArray();
  }

  /** The marshalled TPMT_PUBLIC (no size prefix). */
  public byte[] tpmtPublic() {
    byte[] b = tpm2b.toByteArray();
    return Arrays.copyOfRange(b, 2, b.length);
  }

  /** The parsed public area (type, nameAlg, attributes, policy, parameters, unique). */
  public TpmPublic parsed() {
    return parsed;
  }

  /** The key as a Java public key (RSA or EC). */
  public PublicKey publicKey() {
    return publicKey;
  }

  /** The object's Name: nameAlg || H_nameAlg(TPMT_PUBLIC). */
  public byte[] name() {
    return name.toByteArray();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TpmPublicArea t && tpm2b.equals(t.tpm2b);
  }

  @Override
  public int hashCode() {
    return tpm2b.hashCode();
  }

  @Override
  public String toString() {
    return String.format(
        "TpmPublicArea{type=0x%04x, nameAlg=0x%04x, attributes=0x%08x, %d bytes}",
        parsed.type(), parsed.nameAlg(), parsed.objectAttributes(), tpm2b.size());
  }
}
