package io.github.keylimeattestor.tpm;

/**
 * Which hash algorithms a verifier accepts in signatures and PCR banks. SHA-1 is refused unless
 * asked for: chosen-prefix collisions on SHA-1 are practical, and every TPM 2.0 has a SHA-256
 * bank and SHA-256 signing schemes.
 */
public record AlgorithmPolicy(boolean allowSha1) {
  /** SHA-1 refused (the default everywhere). */
  public static final AlgorithmPolicy STRICT = new AlgorithmPolicy(false);
  /** SHA-1 accepted too, for old TPMs whose only bank or AK scheme is SHA-1. */
  public static final AlgorithmPolicy ALLOW_SHA1 = new AlgorithmPolicy(true);

  /** Throws if {@code hashAlg} is SHA-1 and SHA-1 is not allowed; {@code what} names its use. */
  public void check(int hashAlg, String what) throws TpmVerificationException {
    if (hashAlg == Alg.SHA1 && !allowSha1) {
      throw new TpmVerificationException(what + " uses SHA-1, which is refused unless allow_sha1 = true");
    }
  }
}
