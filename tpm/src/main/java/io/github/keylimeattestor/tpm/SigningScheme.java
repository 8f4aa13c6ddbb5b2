package io.github.keylimeattestor.tpm;

import io.github.keylimeattestor.tpm.structure.TpmPublic;

/**
 * The signature scheme and hash a key signs with, taken from the key's public area, never from a
 * signature: a TPM signs with the scheme its key declares (TPM2_Quote / TPM2_Certify fail with
 * TPM_RC_SCHEME for any other), so evidence whose signature declares another scheme was not made
 * by that key as registered.
 *
 * <p>A public area that declares the NULL scheme is refused, as go-attestation's
 * {@code ParseAKPublic} does: a TPM refuses to create a restricted signing key without a scheme
 * (TPM2_Create answers TPM_RC_SCHEME, seen on swtpm), so such an AK was never a TPM's.
 */
public record SigningScheme(int sigAlg, int hashAlg) {

  /** The scheme {@code key} signs with; only RSASSA/RSAPSS (RSA) and ECDSA (ECC) with SHA-1/2. */
  public static SigningScheme of(TpmPublic key) throws TpmFormatException {
    TpmPublic.Scheme declared = key.scheme();
    if (declared.scheme() == Alg.NULL) {
      throw new TpmFormatException("the key declares no signing scheme (a TPM makes no restricted signing key "
          + "without one)");
    }
    SigningScheme s = new SigningScheme(declared.scheme(), declared.hashAlg());
    boolean fits = key.type() == Alg.RSA
        ? s.sigAlg == Alg.RSASSA || s.sigAlg == Alg.RSAPSS
        : key.type() == Alg.ECC && s.sigAlg == Alg.ECDSA;
    if (!fits) {
      throw new TpmFormatException(String.format("the key's signing scheme 0x%04x is not RSASSA/RSAPSS for an RSA "
          + "key or ECDSA for an ECC key", s.sigAlg));
    }
    Alg.javaDigestName(s.hashAlg);
    return s;
  }

  @Override
  public String toString() {
    return name(sigAlg) + "-" + hashName(hashAlg);
  }

  static String name(int sigAlg) {
    switch (sigAlg) {
      case Alg.RSASSA: return "RSASSA";
      case Alg.RSAPSS: return "RSAPSS";
      case Alg.ECDSA: return "ECDSA";
      case Alg.NULL: return "NULL";
      default: return String.format("0x%04x", sigAlg);
    }
  }

  static String hashName(int hashAlg) {
    String n = Alg.keylimeHashName(hashAlg);
    return n == null ? String.format("0x%04x", hashAlg) : n.toUpperCase(java.util.Locale.ROOT);
  }
}
