package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.TpmFormatException;
import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.RSAPublicKeySpec;

/**
 * TPMT_PUBLIC for RSA and ECC keys (TPM 2.0 Part 2, "Public Area Structures"). Fields that do not
 * apply to the key type are 0 / empty. Equality is by marshalled bytes.
 *
 * @param symmetric TPMT_SYM_DEF_OBJECT ({@link SymDef#NULL} for signing keys)
 * @param scheme TPMT_RSA_SCHEME / TPMT_ECC_SCHEME
 * @param keyBits RSA key size
 * @param exponent RSA exponent as stored (0 means 65537)
 * @param curveId TPM_ECC_CURVE
 * @param kdf TPMT_KDF_SCHEME (ECC only)
 * @param rsaModulus RSA unique (modulus), may be empty in templates
 * @param eccX ECC unique x
 * @param eccY ECC unique y
 */
public record TpmPublic(
    int type,
    int nameAlg,
    int objectAttributes,
    Bytes authPolicy,
    SymDef symmetric,
    Scheme scheme,
    int keyBits,
    int exponent,
    int curveId,
    Scheme kdf,
    Bytes rsaModulus,
    Bytes eccX,
    Bytes eccY) {

  /** Default parse limit for a TPMT_PUBLIC / TPM2B_PUBLIC. */
  public static final int DEFAULT_LIMIT = 2048;
  private static final int MAX_DIGEST = 64;
  private static final int MAX_RSA_BYTES = 512;
  private static final int MAX_ECC_BYTES = 66;

  /** TPMT_SYM_DEF_OBJECT. */
  public record SymDef(int algorithm, int keyBits, int mode) {
    public static final SymDef NULL = new SymDef(Alg.NULL, 0, 0);
    public static final SymDef AES_128_CFB = new SymDef(Alg.AES, 128, Alg.CFB);
  }

  /** A scheme with its hash (TPMT_RSA_SCHEME, TPMT_ECC_SCHEME, TPMT_KDF_SCHEME, TPMT_SIG_SCHEME). */
  public record Scheme(int scheme, int hashAlg, int count) {
    public static final Scheme NULL = new Scheme(Alg.NULL, 0, 0);

    public static Scheme of(int scheme, int hashAlg) {
      return new Scheme(scheme, hashAlg, 0);
    }

    /** NULL, and RSAES, whose details are TPMS_EMPTY: no hash follows the selector. */
    private static boolean hasNoDetails(int scheme) {
      return scheme == Alg.NULL || scheme == Alg.RSAES;
    }

    /** As TPMT_*_SCHEME: the selector, then its details (hash; ECDAA adds its count). */
    public void marshal(TpmWriter w) {
      w.u16(scheme);
      if (!hasNoDetails(scheme)) {
        w.u16(hashAlg);
        if (scheme == Alg.ECDAA) {
          w.u16(count);
        }
      }
    }

    static Scheme parse(TpmReader r, String what) throws TpmFormatException {
      int s = r.u16(what);
      if (s == Alg.NULL) {
        return NULL;
      }
      if (s == Alg.RSAES) {
        return new Scheme(s, 0, 0);
      }
      int h = r.u16(what + " hash");
      int c = s == Alg.ECDAA ? r.u16(what + " count") : 0;
      return new Scheme(s, h, c);
    }
  }

  public static TpmPublic rsa(int nameAlg, int attributes, byte[] authPolicy, SymDef sym,
      Scheme scheme, int keyBits, int exponent, byte[] modulus) {
    return new TpmPublic(Alg.RSA, nameAlg, attributes, Bytes.copyFrom(authPolicy), sym, scheme, keyBits,
        exponent, 0, Scheme.NULL, Bytes.copyFrom(modulus), Bytes.empty(), Bytes.empty());
  }

  public static TpmPublic ecc(int nameAlg, int attributes, byte[] authPolicy, SymDef sym,
      Scheme scheme, int curveId, Scheme kdf, byte[] x, byte[] y) {
    return new TpmPublic(Alg.ECC, nameAlg, attributes, Bytes.copyFrom(authPolicy), sym, scheme, 0, 0,
        curveId, kdf, Bytes.empty(), Bytes.copyFrom(x), Bytes.copyFrom(y));
  }

  public boolean hasAttributes(int mask) {
    return (objectAttributes & mask) == mask;
  }

  /** Marshalled TPMT_PUBLIC. */
  public byte[] marshal() {
    TpmWriter w = new TpmWriter();
    marshal(w);
    return w.toByteArray();
  }

  /** Marshalled TPM2B_PUBLIC (UINT16 size + TPMT_PUBLIC). */
  public byte[] marshalTpm2b() {
    return new TpmWriter().tpm2b(marshal()).toByteArray();
  }

  public void marshal(TpmWriter w) {
    w.u16(type).u16(nameAlg).u32(objectAttributes).tpm2b(authPolicy.toByteArray());
    w.u16(symmetric.algorithm());
    if (symmetric.algorithm() != Alg.NULL) {
      w.u16(symmetric.keyBits()).u16(symmetric.mode());
    }
    scheme.marshal(w);
    if (type == Alg.RSA) {
      w.u16(keyBits).u32(exponent).tpm2b(rsaModulus.toByteArray());
    } else {
      w.u16(curveId);
      kdf.marshal(w);
      w.tpm2b(eccX.toByteArray()).tpm2b(eccY.toByteArray());
    }
  }

  /** Parses a TPMT_PUBLIC occupying all of {@code input}. */
  public static TpmPublic parse(byte[] input, int limit) throws TpmFormatException {
    TpmReader r = TpmReader.bounded(input, limit, "TPMT_PUBLIC");
    TpmPublic p = parse(r);
    r.expectEnd("TPMT_PUBLIC");
    return p;
  }

  public static TpmPublic parse(byte[] input) throws TpmFormatException {
    return parse(input, DEFAULT_LIMIT);
  }

  /** Parses a TPM2B_PUBLIC occupying all of {@code input}. */
  public static TpmPublic parseTpm2b(byte[] input, int limit) throws TpmFormatException {
    TpmReader r = TpmReader.bounded(input, limit, "TPM2B_PUBLIC");
    TpmPublic p = parseTpm2b(r);
    r.expectEnd("TPM2B_PUBLIC");
    return p;
  }

  public static TpmPublic parseTpm2b(byte[] input) throws TpmFormatException {
    return parseTpm2b(input, DEFAULT_LIMIT);
  }

  public static TpmPublic parseTpm2b(TpmReader r) throws TpmFormatException {
    TpmReader inner = r.sized("TPM2B_PUBLIC");
    TpmPublic p = parse(inner);
    inner.expectEnd("TPM2B_PUBLIC");
    return p;
  }

  public static TpmPublic parse(TpmReader r) throws TpmFormatException {
    int type = r.u16("TPMT_PUBLIC.type");
    if (type != Alg.RSA && type != Alg.ECC) {
      throw new TpmFormatException(String.format("unsupported public area type 0x%04x (only RSA and ECC)", type));
    }
    int nameAlg = r.u16("nameAlg");
    int attrs = r.u32("objectAttributes");
    byte[] policy = r.tpm2b(MAX_DIGEST, "authPolicy");
    int symAlg = r.u16("symmetric.algorithm");
    SymDef sym = symAlg == Alg.NULL ? SymDef.NULL
        : new SymDef(symAlg, r.u16("symmetric.keyBits"), r.u16("symmetric.mode"));
    Scheme scheme = Scheme.parse(r, "scheme");
    if (type == Alg.RSA) {
      int bits = r.u16("keyBits");
      int exp = r.u32("exponent");
      byte[] n = r.tpm2b(MAX_RSA_BYTES, "RSA modulus");
      return rsa(nameAlg, attrs, policy, sym, scheme, bits, exp, n);
    }
    int curve = r.u16("curveID");
    Scheme kdf = Scheme.parse(r, "kdf");
    byte[] x = r.tpm2b(MAX_ECC_BYTES, "ECC x");
    byte[] y = r.tpm2b(MAX_ECC_BYTES, "ECC y");
    return ecc(nameAlg, attrs, policy, sym, scheme, curve, kdf, x, y);
  }

  /** The object's Name: nameAlg || H_nameAlg(TPMT_PUBLIC). */
  public byte[] name() throws TpmFormatException {
    byte[] digest = Alg.hash(nameAlg, marshal());
    byte[] name = new byte[2 + digest.length];
    name[0] = (byte) (nameAlg >>> 8);
    name[1] = (byte) nameAlg;
    System.arraycopy(digest, 0, name, 2, digest.length);
    return name;
  }

  /** The public key as a Java key. */
  public PublicKey toPublicKey() throws TpmFormatException {
    try {
      if (type == Alg.RSA) {
        if (rsaModulus.isEmpty()) {
          throw new TpmFormatException("RSA public area has no modulus");
        }
        BigInteger e = BigInteger.valueOf(exponent == 0 ? 65537 : exponent & 0xFFFFFFFFL);
        return KeyFactory.getInstance("RSA")
            .generatePublic(new RSAPublicKeySpec(new BigInteger(1, rsaModulus.toByteArray()), e));
      }
      ECParameterSpec spec = curveSpec(curveId);
      BigInteger x = new BigInteger(1, eccX.toByteArray());
      BigInteger y = new BigInteger(1, eccY.toByteArray());
      if (!onCurve(spec, x, y)) {
        throw new TpmFormatException("ECC public point is not on the curve of the public area (0x"
            + Integer.toHexString(curveId) + ")");
      }
      return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(new ECPoint(x, y), spec));
    } catch (GeneralSecurityException | RuntimeException e) {
      throw new TpmFormatException("public area does not hold a valid key: " + e.getMessage(), e);
    }
  }

  /** 0 <= x, y < p and y^2 = x^3 + ax + b (mod p): the JDK takes any coordinates, even longer ones than the field. */
  private static boolean onCurve(ECParameterSpec spec, BigInteger x, BigInteger y) {
    BigInteger p = ((java.security.spec.ECFieldFp) spec.getCurve().getField()).getP();
    if (x.compareTo(p) >= 0 || y.compareTo(p) >= 0) {
      return false;
    }
    BigInteger rhs = x.pow(3).add(spec.getCurve().getA().multiply(x)).add(spec.getCurve().getB());
    return y.multiply(y).subtract(rhs).mod(p).signum() == 0;
  }

  /** This public area (template) with its unique field replaced by {@code key}. */
  public TpmPublic withKey(PublicKey key) throws TpmFormatException {
    if (type == Alg.RSA && key instanceof RSAPublicKey) {
      RSAPublicKey rsa = (RSAPublicKey) key;
      int bits = rsa.getModulus().bitLength();
      int bytes = (bits + 7) / 8;
      BigInteger e = rsa.getPublicExponent();
      int exp = e.equals(BigInteger.valueOf(65537)) ? 0 : e.intValue();
      return rsa(nameAlg, objectAttributes, authPolicy.toByteArray(), symmetric, scheme, bytes * 8, exp,
          unsigned(rsa.getModulus(), bytes));
    }
    if (type == Alg.ECC && key instanceof ECPublicKey) {
      ECPublicKey ec = (ECPublicKey) key;
      int fieldBytes = (ec.getParams().getCurve().getField().getFieldSize() + 7) / 8;
      int curve = curveForFieldBytes(fieldBytes);
      return ecc(nameAlg, objectAttributes, authPolicy.toByteArray(), symmetric, scheme, curve, kdf,
          unsigned(ec.getW().getAffineX(), fieldBytes), unsigned(ec.getW().getAffineY(), fieldBytes));
    }
    throw new TpmFormatException("key type " + key.getAlgorithm() + " does not match the template type");
  }

  /** The TPM_ECC_CURVE's Java parameters (NIST P-256, P-384, P-521). */
  public static ECParameterSpec curveSpec(int curveId) throws TpmFormatException {
    String name;
    switch (curveId) {
      case Alg.ECC_NIST_P256: name = "secp256r1"; break;
      case Alg.ECC_NIST_P384: name = "secp384r1"; break;
      case Alg.ECC_NIST_P521: name = "secp521r1"; break;
      default: throw new TpmFormatException(String.format("unsupported ECC curve 0x%04x", curveId));
    }
    try {
      AlgorithmParameters p = AlgorithmParameters.getInstance("EC");
      p.init(new ECGenParameterSpec(name));
      return p.getParameterSpec(ECParameterSpec.class);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Field size in bytes of a supported curve. */
  public static int curveBytes(int curveId) throws TpmFormatException {
    switch (curveId) {
      case Alg.ECC_NIST_P256: return 32;
      case Alg.ECC_NIST_P384: return 48;
      case Alg.ECC_NIST_P521: return 66;
      default: throw new TpmFormatException(String.format("unsupported ECC curve 0x%04x", curveId));
    }
  }

  private static int curveForFieldBytes(int bytes) throws TpmFormatException {
    switch (bytes) {
      case 32: return Alg.ECC_NIST_P256;
      case 48: return Alg.ECC_NIST_P384;
      case 66: return Alg.ECC_NIST_P521;
      default: throw new TpmFormatException("unsupported EC field size " + bytes);
    }
  }

  /** Big-endian unsigned, left-padded to {@code len} bytes. */
  public static byte[] unsigned(BigInteger v, int len) {
    byte[] b = v.toByteArray();
    if (b.length == len) {
      return b;
    }
    byte[] out = new byte[len];
    if (b.length > len) {
      System.arraycopy(b, b.length - len, out, 0, len);
    } else {
      System.arraycopy(b, 0, out, len - b.length, b.length);
    }
    return out;
  }


  @Override
  public String toString() {
    return String.format("TpmPublic[type=0x%04x, nameAlg=0x%04x, attributes=0x%08x, %d bytes]",
        type, nameAlg, objectAttributes, marshal().length);
  }
}
