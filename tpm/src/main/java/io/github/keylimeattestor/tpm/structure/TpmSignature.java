package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.SigningScheme;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.TpmVerificationException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;

/**
 * TPMT_SIGNATURE for RSASSA, RSAPSS and ECDSA.
 *
 * @param rsaSignature the RSA signature (RSASSA/RSAPSS)
 * @param r ECDSA r, unsigned big-endian as the TPM returned it
 * @param s ECDSA s
 */
public record TpmSignature(int sigAlg, int hashAlg, Bytes rsaSignature, Bytes r, Bytes s) {
  public static final int DEFAULT_LIMIT = 1024;
  private static final int MAX_RSA = 512;
  private static final int MAX_ECC = 66;

  public static TpmSignature parse(byte[] input) throws TpmFormatException {
    return parse(input, DEFAULT_LIMIT);
  }

  public static TpmSignature parse(Bytes input) throws TpmFormatException {
    return parse(input.toByteArray(), DEFAULT_LIMIT);
  }

  /** Parses a TPMT_SIGNATURE occupying all of {@code input}. */
  public static TpmSignature parse(byte[] input, int limit) throws TpmFormatException {
    TpmReader rd = TpmReader.bounded(input, limit, "TPMT_SIGNATURE");
    TpmSignature sig = parse(rd);
    rd.expectEnd("TPMT_SIGNATURE");
    return sig;
  }

  public static TpmSignature parse(TpmReader rd) throws TpmFormatException {
    int alg = rd.u16("sigAlg");
    switch (alg) {
      case Alg.RSASSA:
      case Alg.RSAPSS: {
        int hash = rd.u16("hash");
        return new TpmSignature(alg, hash, rd.tpm2bValue(MAX_RSA, "RSA signature"), Bytes.empty(), Bytes.empty());
      }
      case Alg.ECDSA: {
        int hash = rd.u16("hash");
        Bytes r = rd.tpm2bValue(MAX_ECC, "signatureR");
        Bytes s = rd.tpm2bValue(MAX_ECC, "signatureS");
        return new TpmSignature(alg, hash, Bytes.empty(), r, s);
      }
      default:
        throw new TpmFormatException(String.format(
            "unsupported signature algorithm 0x%04x (only RSASSA, RSAPSS, ECDSA)", alg));
    }
  }

  public byte[] marshal() {
    TpmWriter w = new TpmWriter().u16(sigAlg).u16(hashAlg);
    if (sigAlg == Alg.ECDSA) {
      w.tpm2b(r.toByteArray()).tpm2b(s.toByteArray());
    } else {
      w.tpm2b(rsaSignature.toByteArray());
    }
    return w.toByteArray();
  }

  /**
   * Verifies this signature over {@code message} (e.g. the raw TPMS_ATTEST bytes) with {@code key},
   * which signs with {@code scheme} (from its public area, see {@link SigningScheme#of}). Throws
   * if the signature declares another scheme or hash, if the key is of the wrong type, or if the
   * signature is wrong; returns only when it verified.
   */
  public void verify(PublicKey key, SigningScheme scheme, byte[] message)
      throws TpmFormatException, TpmVerificationException {
    if (sigAlg != scheme.sigAlg() || hashAlg != scheme.hashAlg()) {
      throw new TpmVerificationException("the signature declares " + new SigningScheme(sigAlg, hashAlg)
          + " but the attestation key signs with " + scheme);
    }
    if (!verifies(key, message)) {
      throw new TpmVerificationException("signature does not verify with the attestation key: another key signed "
          + "the evidence, or it was altered after signing");
    }
  }

  private boolean verifies(PublicKey key, byte[] message) throws TpmFormatException {
    String hash = Alg.javaDigestName(hashAlg).replace("-", "");
    try {
      switch (sigAlg) {
        case Alg.RSASSA: {
          if (!(key instanceof RSAPublicKey)) {
            return false;
          }
          Signature v = Signature.getInstance(hash + "withRSA");
          v.initVerify(key);
          v.update(message);
          return v.verify(rsaSignature.toByteArray());
        }
        case Alg.RSAPSS: {
          if (!(key instanceof RSAPublicKey)) {
            return false;
          }
          // TPMs use salt = digest size (Keylime assumes this too); some use the maximum salt.
          int hLen = Alg.digestSize(hashAlg);
          int keyBytes = (((RSAPublicKey) key).getModulus().bitLength() + 7) / 8;
          return verifyPss(key, message, hLen) || verifyPss(key, message, keyBytes - hLen - 2);
        }
        case Alg.ECDSA: {
          if (!(key instanceof ECPublicKey)) {
            return false;
          }
          int n = (((ECPublicKey) key).getParams().getOrder().bitLength() + 7) / 8;
          if (r.size() > n || s.size() > n) {
            return false;
          }
          byte[] p1363 = new byte[2 * n];
          System.arraycopy(TpmPublic.unsigned(new BigInteger(1, r.toByteArray()), n), 0, p1363, 0, n);
          System.arraycopy(TpmPublic.unsigned(new BigInteger(1, s.toByteArray()), n), 0, p1363, n, n);
          Signature v = Signature.getInstance(hash + "withECDSAinP1363Format");
          v.initVerify(key);
          v.update(message);
          return v.verify(p1363);
        }
        default:
          return false;
      }
    } catch (java.security.SignatureException | java.security.InvalidKeyException e) {
      return false;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("JDK lacks a signature algorithm: " + e.getMessage(), e);
    }
  }

  private boolean verifyPss(PublicKey key, byte[] message, int salt) throws GeneralSecurityException,
      TpmFormatException {
    if (salt < 0) {
      return false;
    }
    String jname = Alg.javaDigestName(hashAlg);
    Signature v = Signature.getInstance("RSASSA-PSS");
    v.setParameter(new PSSParameterSpec(jname, "MGF1", new MGF1ParameterSpec(jname), salt, 1));
    v.initVerify(key);
    v.update(message);
    return v.verify(rsaSignature.toByteArray());
  }
}
