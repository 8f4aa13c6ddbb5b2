package io.github.keylimeattestor.keylime.emulator;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.RSAPublicKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Set;
import io.github.keylimeattestor.keylime.Pem;
import io.github.keylimeattestor.tpm.PemText;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The agent's software keys, kept in {@code keylime_dir} like rust-keylime's: the "NK" payload key
 * ({@code payload-private.pem}, RSA 2048) whose public PEM is hashed into PCR 16, and the mTLS
 * server key and self-signed certificate ({@code server-private.pem}, {@code server-cert.crt},
 * CN = agent UUID, IP SAN = contact address).
 */
final class AgentKeys {
  final KeyPair nk;
  final String nkPublicPem;
  final PrivateKey serverKey;
  final X509Certificate serverCert;
  final String serverCertPem;

  private AgentKeys(KeyPair nk, PrivateKey serverKey, X509Certificate serverCert) throws IOException {
    this.nk = nk;
    this.nkPublicPem = publicKeyPem(nk.getPublic());
    this.serverKey = serverKey;
    this.serverCert = serverCert;
    this.serverCertPem = pem(serverCert);
  }

  static AgentKeys loadOrCreate(Path dir, String uuid, String contactIp)
      throws IOException, GeneralSecurityException {
    Files.createDirectories(dir);
    KeyPair nk = loadOrCreateRsa(dir.resolve("payload-private.pem"));
    Path keyFile = dir.resolve("server-private.pem");
    Path certFile = dir.resolve("server-cert.crt");
    KeyPair server = loadOrCreateRsa(keyFile);
    X509Certificate cert = null;
    if (Files.exists(certFile)) {
      cert = Pem.readCertificates(certFile).get(0);
      if (!cert.getPublicKey().equals(server.getPublic())
          || !cert.getSubjectX500Principal().getName().equals("CN=" + uuid)) {
        cert = null; // stale: regenerate, as the agent does for a new key or UUID
      }
    }
    if (cert == null) {
      cert = selfSigned(server, uuid, contactIp);
      Files.writeString(certFile, pem(cert));
    }
    return new AgentKeys(nk, server.getPrivate(), cert);
  }

  private static KeyPair loadOrCreateRsa(Path file) throws IOException, GeneralSecurityException {
    if (Files.exists(file)) {
      PrivateKey k = Pem.readPrivateKey(file, null);
      if (k instanceof RSAPrivateCrtKey crt) {
        PublicKey pub = KeyFactory.getInstance("RSA")
            .generatePublic(new RSAPublicKeySpec(crt.getModulus(), crt.getPublicExponent()));
        return new KeyPair(pub, k);
      }
      throw new IOException(file + " does not hold an RSA private key");
    }
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    KeyPair kp = g.generateKeyPair();
    Files.writeString(file, PemText.encode("PRIVATE KEY", kp.getPrivate().getEncoded())); // PKCS#8
    try {
      Files.setPosixFilePermissions(file, Set.of(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
          java.nio.file.attribute.PosixFilePermission.OWNER_WRITE));
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system
    }
    return kp;
  }

  private static X509Certificate selfSigned(KeyPair kp, String uuid, String ip)
      throws GeneralSecurityException, IOException {
    X500Name name = new X500Name("CN=" + uuid);
    Instant now = Instant.now();
    JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name,
        new BigInteger(63, new SecureRandom()).add(BigInteger.ONE), Date.from(now.minusSeconds(60)),
        Date.from(now.plus(Duration.ofDays(365))), name, kp.getPublic());
    byte[] addr = InetAddress.getByName(ip).getAddress();
    b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(
        new GeneralName(GeneralName.iPAddress, new org.bouncycastle.asn1.DEROctetString(addr))));
    try {
      return new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withRSA").build(kp.getPrivate())));
    } catch (org.bouncycastle.operator.OperatorCreationException e) {
      throw new GeneralSecurityException(e);
    }
  }

  /** SubjectPublicKeyInfo PEM exactly as OpenSSL writes it (64-column base64, trailing newline). */
  static String publicKeyPem(PublicKey k) {
    return PemText.publicKey(k);
  }

  static String pem(X509Certificate c) throws IOException {
    try {
      return PemText.encode("CERTIFICATE", c.getEncoded());
    } catch (java.security.cert.CertificateEncodingException e) {
      throw new IOException(e);
    }
  }

  static String derToPem(byte[] der) {
    return PemText.encode("CERTIFICATE", der);
  }

  static List<X509Certificate> readCas(List<Path> files) throws IOException {
    List<X509Certificate> out = new java.util.ArrayList<>();
    for (Path p : files) {
      out.addAll(Pem.readCertificates(p));
    }
    return out;
  }
}
