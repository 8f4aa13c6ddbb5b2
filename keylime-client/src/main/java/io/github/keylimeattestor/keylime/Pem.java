package io.github.keylimeattestor.keylime;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.edec.EdECObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.openssl.X509TrustedCertificateBlock;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMDecryptorProvider;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder;
import org.bouncycastle.operator.InputDecryptorProvider;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.pkcs.PKCSException;

/**
 * PEM reading: certificates (one or many) and private keys in PKCS#8 ({@code PRIVATE KEY}), SEC1
 * ({@code EC PRIVATE KEY}), PKCS#1 ({@code RSA PRIVATE KEY}), and password-protected forms
 * ({@code ENCRYPTED PRIVATE KEY}, OpenSSL {@code Proc-Type: 4,ENCRYPTED}).
 */
public final class Pem {
  /**
   * A private provider instance, never registered JVM-wide, built only to decrypt a
   * password-protected key: building it loads about 700 classes (2 MB of metaspace, README "Memory").
   */
  private static final class Bc {
    static final BouncyCastleProvider PROVIDER = new BouncyCastleProvider();
  }

  private Pem() {}

  /** What a PEM file holds: its certificates (in order) and its private keys (still encoded). */
  public record Contents(String what, List<X509Certificate> certificates, List<Object> keys) {
    public Contents {
      certificates = List.copyOf(certificates);
      keys = List.copyOf(keys);
    }

    /** e.g. "2 certificates ('CN=a', 'CN=b') and 1 private key". */
    public String describe() {
      if (certificates.isEmpty() && keys.isEmpty()) {
        return "nothing in PEM form";
      }
      StringBuilder sb = new StringBuilder();
      if (!certificates.isEmpty()) {
        sb.append(certificates.size()).append(certificates.size() == 1 ? " certificate " : " certificates ")
            .append(CertDescriptions.subjects(certificates));
      }
      if (!keys.isEmpty()) {
        sb.append(sb.length() == 0 ? "" : " and ").append(keys.size())
            .append(keys.size() == 1 ? " private key" : " private keys");
      }
      return sb.toString();
    }
  }

  /** Larger than any certificate bundle or key file (a system CA bundle is about 200 KB); bounds the heap a read takes. */
  static final int MAX_FILE_BYTES = 8 << 20;

  /** Reads a PEM file that may mix certificates and private keys (as combined PEM files do). */
  public static Contents readContents(Path file) throws IOException {
    // ISO-8859-1 maps every byte: text around the PEM blocks (a UTF-8 "# Autorité ..." comment) is not ours to refuse
    return parseContents(new String(readBounded(file), StandardCharsets.ISO_8859_1), file.toString());
  }

  private static byte[] readBounded(Path file) throws IOException {
    // opening a FIFO blocks until something writes to it: Configure would never answer
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new IOException(file + " is not a regular file: name the PEM file itself");
    }
    try (var in = Files.newInputStream(file)) {
      byte[] bytes = in.readNBytes(MAX_FILE_BYTES + 1);
      if (bytes.length > MAX_FILE_BYTES) {
        throw new IOException(file + " is larger than " + (MAX_FILE_BYTES >> 20) + " MiB: not a certificate or key file"
            + " (name the PEM file itself)");
      }
      return bytes;
    }
  }

  static Contents parseContents(String pem, String what) throws IOException {
    List<X509Certificate> certs = new ArrayList<>();
    List<Object> keys = new ArrayList<>();
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      Object o;
      while ((o = parser.readObject()) != null) {
        if (o instanceof X509CertificateHolder h) {
          try {
            certs.add(parseDerCertificate(h.getEncoded()));
          } catch (CertificateException e) {
            throw new IOException("cannot read certificate " + (certs.size() + 1) + " in " + what + ": " + e.getMessage(), e);
          }
        } else if (o instanceof X509TrustedCertificateBlock t) {
          try {
            certs.add(parseDerCertificate(t.getCertificateHolder().getEncoded()));
          } catch (CertificateException e) {
            throw new IOException("cannot read certificate " + (certs.size() + 1) + " in " + what + ": " + e.getMessage(), e);
          }
        } else if (o instanceof PrivateKeyInfo || o instanceof PEMKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo
            || o instanceof PEMEncryptedKeyPair) {
          keys.add(o);
        }
        // parameters (EC PARAMETERS), CRLs, public keys: nothing we use
      }
    } catch (org.bouncycastle.openssl.PEMException e) {
      throw new IOException("cannot read " + what + " as PEM: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new IOException("cannot read " + what + " as PEM: " + e.getMessage(), e);
    }
    return new Contents(what, certs, keys);
  }

  /** Reads every certificate in a PEM file (a bundle or a chain). Fails on an empty file. */
  public static List<X509Certificate> readCertificates(Path file) throws IOException {
    return parseCertificates(readBounded(file), file.toString());
  }

  /** Parses every certificate in PEM text. Fails if there is none. */
  public static List<X509Certificate> parseCertificates(String pem, String what) throws IOException {
    return parseCertificates(pem.getBytes(StandardCharsets.US_ASCII), what);
  }

  static List<X509Certificate> parseCertificates(byte[] pem, String what) throws IOException {
    if (!new String(pem, StandardCharsets.US_ASCII).contains("-----BEGIN")) {
      return parseDer(pem, what); // a DER certificate file (as TPM vendors publish EK CAs)
    }
    Contents c = parseContents(new String(pem, StandardCharsets.US_ASCII), what);
    if (c.certificates().isEmpty()) {
      throw new IOException("no certificate found in " + what + " (it holds " + c.describe() + ")");
    }
    return c.certificates();
  }

  private static List<X509Certificate> parseDer(byte[] der, String what) throws IOException {
    List<X509Certificate> out = new ArrayList<>();
    try {
      for (var c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(der))) {
        out.add((X509Certificate) c);
      }
    } catch (CertificateException e) {
      throw new IOException("cannot read certificates from " + what + ": " + e.getMessage(), e);
    }
    if (out.isEmpty()) {
      throw new IOException("no certificate found in " + what);
    }
    return List.copyOf(out);
  }

  /** Parses one DER certificate. */
  public static X509Certificate parseDerCertificate(byte[] der) throws CertificateException {
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    return (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(der));
  }

  /**
   * Reads the first private key in a PEM file.
   *
   * @param password for encrypted keys; may be null for unencrypted keys
   */
  public static PrivateKey readPrivateKey(Path file, char[] password) throws IOException {
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
      return readPrivateKey(r, file.toString(), password);
    }
  }

  /** Parses the first private key in PEM text. */
  public static PrivateKey parsePrivateKey(String pem, String what, char[] password)
      throws IOException {
    return readPrivateKey(new StringReader(pem), what, password);
  }

  private static PrivateKey readPrivateKey(Reader reader, String what, char[] password)
      throws IOException {
    return toJdkKey(readKeyInfo(reader, what, password), what);
  }

  /** Decodes one of {@link Contents#keys()}. */
  public static PrivateKey decodeKey(Object encoded, String what, char[] password) throws IOException {
    try {
      PrivateKeyInfo k = keyInfo(encoded, what, password);
      if (k == null) {
        throw new IOException("not a private key in " + what);
      }
      return toJdkKey(k, what);
    } catch (OperatorCreationException | PKCSException | org.bouncycastle.openssl.EncryptionException e) {
      throw new IOException(
          "cannot decrypt the private key in " + what + " (wrong password?): " + e.getMessage(), e);
    }
  }

  private static PrivateKey toJdkKey(PrivateKeyInfo key, String what) throws IOException {
    // Imported by the JDK's own providers so JSSE can use the key. For SEC1 files PEMParser has put the
    // named curve, which they may hold only inside the key structure, into the PKCS#8 algorithm.
    ASN1ObjectIdentifier oid = key.getPrivateKeyAlgorithm().getAlgorithm();
    String alg;
    if (oid.equals(PKCSObjectIdentifiers.rsaEncryption)) {
      alg = "RSA";
    } else if (oid.equals(X9ObjectIdentifiers.id_ecPublicKey)) {
      alg = "EC";
    } else if (oid.equals(EdECObjectIdentifiers.id_Ed25519)) {
      alg = "Ed25519";
    } else {
      alg = oid.getId();
    }
    try {
      return java.security.KeyFactory.getInstance(alg)
          .generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(key.getEncoded()));
    } catch (java.security.GeneralSecurityException e) {
      throw new IOException("unsupported private key (" + alg + ") in " + what + ": " + e.getMessage(), e);
    }
  }

  private static PrivateKeyInfo readKeyInfo(Reader reader, String what, char[] password)
      throws IOException {
    try (PEMParser parser = new PEMParser(reader)) {
      Object o;
      while ((o = parser.readObject()) != null) {
        PrivateKeyInfo k = keyInfo(o, what, password);
        if (k != null) {
          return k;
        }
        // certificates or parameters before the key: skip
      }
    } catch (OperatorCreationException | PKCSException e) {
      throw new IOException(
          "cannot decrypt the private key in " + what + " (wrong password?): " + e.getMessage(), e);
    } catch (org.bouncycastle.openssl.EncryptionException e) {
      throw new IOException(
          "cannot decrypt the private key in " + what + " (wrong password?): " + e.getMessage(), e);
    }
    throw new IOException("no private key found in " + what);
  }

  /** The key in a parsed PEM object as PKCS#8, decrypted if need be, or null if it is no key. */
  private static PrivateKeyInfo keyInfo(Object o, String what, char[] password)
      throws IOException, OperatorCreationException, PKCSException {
    if (o instanceof PrivateKeyInfo pki) {
      return pki;
    }
    if (o instanceof PEMKeyPair kp) {
      // the private key info alone: SEC1 keys may omit the public key
      return kp.getPrivateKeyInfo();
    }
    if (o instanceof PKCS8EncryptedPrivateKeyInfo enc) {
      requirePassword(password, what);
      InputDecryptorProvider dp =
          new JceOpenSSLPKCS8DecryptorProviderBuilder().setProvider(Bc.PROVIDER).build(password);
      return enc.decryptPrivateKeyInfo(dp);
    }
    if (o instanceof PEMEncryptedKeyPair enc) {
      requirePassword(password, what);
      PEMDecryptorProvider dp = new JcePEMDecryptorProviderBuilder().setProvider(Bc.PROVIDER).build(password);
      return enc.decryptKeyPair(dp).getPrivateKeyInfo();
    }
    return null;
  }

  private static void requirePassword(char[] password, String what) throws IOException {
    if (password == null || password.length == 0) {
      // the plugins' settings take no password: a key file 0600 to the plugin's user is the protection
      throw new IOException("the private key in " + what + " is encrypted, and the plugins read unencrypted keys "
          + "only: decrypt it (openssl pkey -in KEY -out KEY.plain; chmod 0600 KEY.plain) and name that file");
    }
  }
}
