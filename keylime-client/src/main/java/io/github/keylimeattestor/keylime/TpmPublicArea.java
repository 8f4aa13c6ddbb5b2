package io.github.keylimeattestor.keylime;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * A TPM2B_PUBLIC as Keylime stores it ({@code ek_tpm}, {@code aik_tpm}): UINT16 size followed by
 * the marshalled TPMT_PUBLIC. The size prefix is checked on construction; the header fields are
 * decoded here, the full structure (key parameters, public key, Name) by the {@code tpm} module.
 */
public final class TpmPublicArea {
  /** TPM_ALG_RSA. */
  public static final int ALG_RSA = 0x0001;
  /** TPM_ALG_ECC. */
  public static final int ALG_ECC = 0x0023;

  private final byte[] tpm2b;

  private TpmPublicArea(byte[] tpm2b) {
    this.tpm2b = tpm2b;
  }

  /**
   * Checks the framing of a TPM2B_PUBLIC: a UINT16 size equal to the remaining length, and room
   * for the type, nameAlg and objectAttributes fields.
   */
  public static TpmPublicArea fromTpm2b(byte[] tpm2b) {
    if (tpm2b.length < 2 + 8) {
      throw new IllegalArgumentException("TPM2B_PUBLIC too short: " + tpm2b.length + " bytes");
    }
    int size = ((tpm2b[0] & 0xff) << 8) | (tpm2b[1] & 0xff);
    if (size != tpm2b.length - 2) {
      throw new IllegalArgumentException(
          "TPM2B_PUBLIC size field says " + size + " bytes but " + (tpm2b.length - 2) + " follow");
    }
    return new TpmPublicArea(tpm2b.clone());
  }

  /** The TPM2B_PUBLIC bytes (size prefix included). */
  public byte[] tpm2bPublic() {
    return tpm2b.clone();
  }

  /** The marshalled TPMT_PUBLIC (no size prefix): the input to the object's Name hash. */
  public byte[] tpmtPublic() {
    return Arrays.copyOfRange(tpm2b, 2, tpm2b.length);
  }

  /** TPMI_ALG_PUBLIC, e.g. {@link #ALG_RSA}. */
  public int type() {
    return u16(2);
  }

  /** TPMI_ALG_HASH of the Name, e.g. 0x000B for SHA-256. */
  public int nameAlg() {
    return u16(4);
  }

  /** TPMA_OBJECT bits. */
  public int objectAttributes() {
    return (u16(6) << 16) | u16(8);
  }

  private int u16(int off) {
    return ((tpm2b[off] & 0xff) << 8) | (tpm2b[off + 1] & 0xff);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TpmPublicArea t && Arrays.equals(tpm2b, t.tpm2b);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(tpm2b);
  }

  @Override
  public String toString() {
    return String.format(
        "TpmPublicArea{type=0x%04x, nameAlg=0x%04x, attributes=0x%08x, %d bytes, head=%s}",
        type(), nameAlg(), objectAttributes(), tpm2b.length,
        HexFormat.of().formatHex(tpm2b, 0, Math.min(16, tpm2b.length)));
  }
}
