package io.github.keylimeattestor.tpm;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** TPM_ALG_ID values; the hash algorithms' names and sizes come from {@link HashAlg}. */
public final class Alg {
  public static final int RSA = 0x0001;
  public static final int SHA1 = 0x0004;
  public static final int HMAC = 0x0005;
  public static final int AES = 0x0006;
  public static final int KEYEDHASH = 0x0008;
  public static final int SHA256 = 0x000B;
  public static final int SHA384 = 0x000C;
  public static final int SHA512 = 0x000D;
  public static final int NULL = 0x0010;
  public static final int SM3_256 = 0x0012;
  public static final int RSASSA = 0x0014;
  public static final int RSAES = 0x0015;
  public static final int RSAPSS = 0x0016;
  public static final int OAEP = 0x0017;
  public static final int ECDSA = 0x0018;
  public static final int ECDH = 0x0019;
  public static final int ECDAA = 0x001A;
  public static final int SM2 = 0x001B;
  public static final int ECSCHNORR = 0x001C;
  public static final int KDF1_SP800_56A = 0x0020;
  public static final int KDF1_SP800_108 = 0x0022;
  public static final int ECC = 0x0023;
  public static final int SYMCIPHER = 0x0025;
  public static final int CFB = 0x0043;

  public static final int ECC_NIST_P256 = 0x0003;
  public static final int ECC_NIST_P384 = 0x0004;
  public static final int ECC_NIST_P521 = 0x0005;

  private Alg() {}

  private static HashAlg known(int hashAlg) throws TpmFormatException {
    return HashAlg.byId(hashAlg).orElseThrow(() ->
        new TpmFormatException(String.format("unsupported hash algorithm 0x%04x", hashAlg)));
  }

  /** Digest size in bytes of a TPM hash algorithm. */
  public static int digestSize(int hashAlg) throws TpmFormatException {
    return known(hashAlg).digestSize();
  }

  /** Java MessageDigest name of a TPM hash algorithm (SM3 is not in the JDK). */
  public static String javaDigestName(int hashAlg) throws TpmFormatException {
    String name = known(hashAlg).javaName();
    if (name == null) {
      throw new TpmFormatException(String.format("unsupported hash algorithm 0x%04x", hashAlg));
    }
    return name;
  }

  public static MessageDigest messageDigest(int hashAlg) throws TpmFormatException {
    try {
      return MessageDigest.getInstance(javaDigestName(hashAlg));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK lacks " + e.getMessage(), e);
    }
  }

  public static byte[] hash(int hashAlg, byte[]... parts) throws TpmFormatException {
    MessageDigest md = messageDigest(hashAlg);
    for (byte[] p : parts) {
      md.update(p);
    }
    return md.digest();
  }

  /** Keylime / rust-keylime name of a hash algorithm ("sha256"), or null. */
  public static String keylimeHashName(int hashAlg) {
    return HashAlg.byId(hashAlg).map(HashAlg::keylimeName).orElse(null);
  }

  /** Inverse of {@link #keylimeHashName}. */
  public static int fromKeylimeHashName(String name) throws TpmFormatException {
    return HashAlg.byKeylimeName(name).map(HashAlg::id)
        .orElseThrow(() -> new TpmFormatException("unknown hash algorithm name: " + name));
  }
}
