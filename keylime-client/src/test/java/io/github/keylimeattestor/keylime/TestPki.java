package io.github.keylimeattestor.keylime;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OutputEncryptor;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** A throw-away PKI for TLS tests, made with BouncyCastle. */
final class TestPki {
  private static final SecureRandom RNG = new SecureRandom();

  record Issued(X509Certificate cert, KeyPair keys) {
    PrivateKey key() {
      return keys.getPrivate();
    }
  }

  static KeyPair ec() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  static KeyPair rsa() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    return g.generateKeyPair();
  }

  static Issued ca(String cn) throws Exception {
    KeyPair kp = ec();
    X500Name name = new X500Name("CN=" + cn);
    X509v3CertificateBuilder b = builder(name, name, kp, Duration.ofDays(1), 0);
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    b.addExtension(
        Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    return new Issued(sign(b, kp.getPrivate()), kp);
  }

  /** A leaf certificate; {@code sans} as "DNS:x" or "IP:1.2.3.4". */
  static Issued leaf(Issued issuer, String cn, KeyPair kp, String... sans) throws Exception {
    return leaf(issuer, cn, kp, Duration.ofDays(1), sans);
  }

  static Issued leaf(Issued issuer, String cn, KeyPair kp, Duration validity, String... sans)
      throws Exception {
    X509v3CertificateBuilder b =
        builder(
            X500Name.getInstance(issuer.cert().getSubjectX500Principal().getEncoded()),
            new X500Name("CN=" + cn),
            kp,
            validity,
            0);
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    if (sans.length > 0) {
      List<GeneralName> names = new ArrayList<>();
      for (String s : sans) {
        names.add(
            s.startsWith("IP:")
                ? new GeneralName(GeneralName.iPAddress, s.substring(3))
                : new GeneralName(GeneralName.dNSName, s.substring(4)));
      }
      b.addExtension(
          Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(new GeneralName[0])));
    }
    return new Issued(sign(b, issuer.key()), kp);
  }

  /** An intermediate CA issued by {@code root}. */
  static Issued intermediate(Issued root, String cn) throws Exception {
    Instant now = Instant.now();
    return issue(root, cn, ec(), now.minusSeconds(3600), now.plus(Duration.ofDays(1)), true, null);
  }

  /**
   * Any certificate: a CA ({@code ca}) or a leaf with the given EKUs (null: no EKU extension) and
   * SANs ("DNS:x" or "IP:1.2.3.4"), valid from {@code notBefore} to {@code notAfter}.
   */
  static Issued issue(Issued issuer, String cn, KeyPair kp, Instant notBefore, Instant notAfter, boolean ca,
      org.bouncycastle.asn1.x509.KeyPurposeId[] eku, String... sans) throws Exception {
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
        X500Name.getInstance(issuer.cert().getSubjectX500Principal().getEncoded()),
        new BigInteger(64, RNG).add(BigInteger.ONE), Date.from(notBefore), Date.from(notAfter),
        new X500Name("CN=" + cn), kp.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(ca ? KeyUsage.keyCertSign | KeyUsage.cRLSign
        : KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
    if (eku != null) {
      b.addExtension(Extension.extendedKeyUsage, false, new org.bouncycastle.asn1.x509.ExtendedKeyUsage(eku));
    }
    if (sans.length > 0) {
      List<GeneralName> names = new ArrayList<>();
      for (String s : sans) {
        names.add(s.startsWith("IP:") ? new GeneralName(GeneralName.iPAddress, s.substring(3))
            : new GeneralName(GeneralName.dNSName, s.substring(4)));
      }
      b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(new GeneralName[0])));
    }
    return new Issued(sign(b, issuer.key()), kp);
  }

  /** A self-signed leaf (like a Keylime agent's mTLS certificate). */
  static Issued selfSigned(String cn, String... sans) throws Exception {
    KeyPair kp = ec();
    X500Name name = new X500Name("CN=" + cn);
    X509v3CertificateBuilder b = builder(name, name, kp, Duration.ofDays(1), 0);
    List<GeneralName> names = new ArrayList<>();
    for (String s : sans) {
      names.add(
          s.startsWith("IP:")
              ? new GeneralName(GeneralName.iPAddress, s.substring(3))
              : new GeneralName(GeneralName.dNSName, s.substring(4)));
    }
    if (!names.isEmpty()) {
      b.addExtension(
          Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(new GeneralName[0])));
    }
    return new Issued(sign(b, kp.getPrivate()), kp);
  }

  private static X509v3CertificateBuilder builder(
      X500Name issuer, X500Name subject, KeyPair kp, Duration validity, int x) {
    Instant now = Instant.now();
    return new JcaX509v3CertificateBuilder(
        issuer,
        new BigInteger(64, RNG).add(BigInteger.ONE),
        Date.from(now.minusSeconds(3600)),
        Date.from(now.plus(validity)),
        subject,
        kp.getPublic());
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws Exception {
    String alg = key.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
    ContentSigner s = new JcaContentSignerBuilder(alg).build(key);
    return new JcaX509CertificateConverter().getCertificate(b.build(s));
  }

  static String pem(Object... objects) throws IOException {
    StringWriter sw = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
      for (Object o : objects) {
        w.writeObject(o);
      }
    }
    return sw.toString();
  }

  /** PKCS#8 "PRIVATE KEY". */
  static String pkcs8(PrivateKey key) throws Exception {
    return pem(new JcaPKCS8Generator(key, null).generate());
  }

  /** "ENCRYPTED PRIVATE KEY" (PBES2/AES-256-CBC). */
  static String encryptedPkcs8(PrivateKey key, char[] password) throws Exception {
    OutputEncryptor enc =
        new JceOpenSSLPKCS8EncryptorBuilder(org.bouncycastle.asn1.nist.NISTObjectIdentifiers.id_aes256_CBC)
            .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider())
            .setPassword(password)
            .build();
    return pem(new JcaPKCS8Generator(key, enc).generate());
  }

  /**
   * Traditional OpenSSL form: "EC PRIVATE KEY" (SEC1, with the named curve, as {@code openssl
   * ecparam -genkey} writes it) or "RSA PRIVATE KEY" (PKCS#1).
   */
  static String traditional(KeyPair kp) throws Exception {
    if (kp.getPrivate() instanceof java.security.interfaces.ECPrivateKey ec) {
      var curve = org.bouncycastle.asn1.x9.X962Parameters.getInstance(
          org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp256r1);
      var sec1 = new org.bouncycastle.asn1.sec.ECPrivateKey(256, ec.getS(), curve);
      return pem(new org.bouncycastle.util.io.pem.PemObject("EC PRIVATE KEY", sec1.getEncoded()));
    }
    return pem(kp);
  }

  static Path write(Path dir, String name, String content) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, content);
    return p;
  }
}
