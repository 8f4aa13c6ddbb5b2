package io.github.keylimeattestor.tpm.testing;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.interfaces.ECPublicKey;
import java.security.spec.MGF1ParameterSpec;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * A credential for TPM2_ActivateCredential in the tpm2-tools file format that the Keylime
 * registrar returns as {@code blob}: magic 0xBADCC0DE, version 1, TPM2B_ID_OBJECT,
 * TPM2B_ENCRYPTED_SECRET (all big-endian).
 *
 * @param idObject TPM2B_ID_OBJECT contents (TPM2B outer HMAC || encrypted TPM2B credential)
 * @param encryptedSecret TPM2B_ENCRYPTED_SECRET contents
 */
public record CredentialBlob(Bytes idObject, Bytes encryptedSecret) {
  public static final int MAGIC = 0xBADCC0DE;
  public static final int VERSION = 1;
  public static final int DEFAULT_LIMIT = 2048;
  private static final int MAX_ID_OBJECT = 2 + 64 + 2 + 64;
  private static final int MAX_SECRET = 512;

  public byte[] encode() {
    return new TpmWriter().u32(MAGIC).u32(VERSION).tpm2b(idObject.toByteArray()).tpm2b(encryptedSecret.toByteArray()).toByteArray();
  }

  public static CredentialBlob parse(byte[] input) throws TpmFormatException {
    return parse(input, DEFAULT_LIMIT);
  }

  public static CredentialBlob parse(byte[] input, int limit) throws TpmFormatException {
    TpmReader r = TpmReader.bounded(input, limit, "credential blob");
    int magic = r.u32("magic");
    if (magic != MAGIC) {
      throw new TpmFormatException(String.format("credential blob magic 0x%08x is not 0xbadcc0de", magic));
    }
    int version = r.u32("version");
    if (version != VERSION) {
      throw new TpmFormatException("credential blob version " + version + " is not 1");
    }
    CredentialBlob b = new CredentialBlob(Bytes.copyFrom(r.tpm2b(MAX_ID_OBJECT, "TPM2B_ID_OBJECT")),
        Bytes.copyFrom(r.tpm2b(MAX_SECRET, "TPM2B_ENCRYPTED_SECRET")));
    r.expectEnd("credential blob");
    return b;
  }

  /**
   * TPM2_MakeCredential in software (TPM 2.0 Part 1, "Credential Protection"): protects
   * {@code credential} to the EK {@code ekPublic} (RSA or ECC storage key) and the Name of the
   * key that must be loaded beside it, as a registrar does (the emulator and tests check our
   * ActivateCredential with it).
   */
  public static CredentialBlob make(TpmPublic ekPublic, byte[] objectName, byte[] credential,
      SecureRandom random) throws TpmFormatException {
    int hash = ekPublic.nameAlg();
    int digestBits = Alg.digestSize(hash) * 8;
    if (ekPublic.symmetric().algorithm() != Alg.AES || ekPublic.symmetric().mode() != Alg.CFB) {
      throw new TpmFormatException("MakeCredential supports AES-CFB storage keys only");
    }
    try {
      byte[] seed;
      byte[] secret;
      PublicKey ek = ekPublic.toPublicKey();
      if (ekPublic.type() == Alg.RSA) {
        seed = new byte[digestBits / 8];
        random.nextBytes(seed);
        String jname = Alg.javaDigestName(hash);
        Cipher oaep = Cipher.getInstance("RSA/ECB/OAEPPadding");
        oaep.init(Cipher.ENCRYPT_MODE, ek, new OAEPParameterSpec(jname, "MGF1",
            new MGF1ParameterSpec(jname),
            new PSource.PSpecified("IDENTITY\0".getBytes(StandardCharsets.US_ASCII))), random);
        secret = oaep.doFinal(seed);
      } else {
        ECPublicKey ecKey = (ECPublicKey) ek;
        int n = TpmPublic.curveBytes(ekPublic.curveId());
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(ecKey.getParams(), random);
        KeyPair eph = g.generateKeyPair();
        KeyAgreement ka = KeyAgreement.getInstance("ECDH");
        ka.init(eph.getPrivate());
        ka.doPhase(ek, true);
        byte[] z = ka.generateSecret();
        ECPublicKey ephPub = (ECPublicKey) eph.getPublic();
        byte[] ex = TpmPublic.unsigned(ephPub.getW().getAffineX(), n);
        byte[] ey = TpmPublic.unsigned(ephPub.getW().getAffineY(), n);
        byte[] kx = TpmPublic.unsigned(ecKey.getW().getAffineX(), n);
        seed = Kdf.kdfe(hash, z, "IDENTITY", ex, kx, digestBits);
        secret = new TpmWriter().tpm2b(ex).tpm2b(ey).toByteArray();
      }
      byte[] symKey = Kdf.kdfa(hash, seed, "STORAGE", objectName, new byte[0],
          ekPublic.symmetric().keyBits());
      Cipher aes = Cipher.getInstance("AES/CFB/NoPadding");
      aes.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(symKey, "AES"), new IvParameterSpec(new byte[16]));
      byte[] encIdentity = aes.doFinal(new TpmWriter().tpm2b(credential).toByteArray());
      byte[] hmacKey = Kdf.kdfa(hash, seed, "INTEGRITY", new byte[0], new byte[0], digestBits);
      String macName = "Hmac" + Alg.javaDigestName(hash).replace("-", "");
      Mac mac = Mac.getInstance(macName);
      mac.init(new SecretKeySpec(hmacKey, macName));
      mac.update(encIdentity);
      mac.update(objectName);
      byte[] idObject = new TpmWriter().tpm2b(mac.doFinal()).bytes(encIdentity).toByteArray();
      return new CredentialBlob(Bytes.copyFrom(idObject), Bytes.copyFrom(secret));
    } catch (GeneralSecurityException e) {
      throw new TpmFormatException("MakeCredential failed: " + e.getMessage(), e);
    }
  }
}
