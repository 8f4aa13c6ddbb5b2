package io.github.keylimeattestor.agent;

import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Date;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** Certificates for the Keylime agent mTLS tests: a rust-keylime-style self-signed server, client CAs. */
final class TestPki {
  record Issued(X509Certificate cert, KeyPair keys) {
    void writeCert(Path file) throws Exception {
      Files.writeString(file, pem("CERTIFICATE", cert.getEncoded()));
    }

    void writeKey(Path file) throws Exception {
      Files.writeString(file, pem("PRIVATE KEY", keys.getPrivate().getEncoded()));
      Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }
  }

  private TestPki() {}

  /** A CA, or (with {@code issuer} null and {@code ca} false) a self-signed server certificate for 127.0.0.1. */
  static Issued issue(String cn, Issued issuer, boolean ca) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair kp = g.generateKeyPair();
    X500Name subject = new X500Name("CN=" + cn);
    X500Name issuerName = issuer == null ? subject : new X500Name(issuer.cert().getSubjectX500Principal().getName());
    Instant now = Instant.now();
    JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName,
        new BigInteger(63, new SecureRandom()).add(BigInteger.ONE), Date.from(now.minusSeconds(60)),
        Date.from(now.plusSeconds(86400)), subject, kp.getPublic());
    if (ca) {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    } else {
      b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName(GeneralName.iPAddress,
          new DEROctetString(InetAddress.getLoopbackAddress().getAddress()))));
    }
    var signer = new JcaContentSignerBuilder("SHA256withECDSA")
        .build(issuer == null ? kp.getPrivate() : issuer.keys().getPrivate());
    return new Issued(new JcaX509CertificateConverter().getCertificate(b.build(signer)), kp);
  }

  /** The agent's TLS: its server certificate, and client certificates only from {@code trustedClientCa}. */
  static SSLContext serverContext(Issued server, X509Certificate trustedClientCa) throws Exception {
    char[] pw = new char[0];
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("server", server.keys().getPrivate(), pw, new X509Certificate[] {server.cert()});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
    kmf.init(ks, pw);
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    ts.setCertificateEntry("ca", trustedClientCa);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(ts);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
    return ctx;
  }

  private static String pem(String type, byte[] der) {
    return io.github.keylimeattestor.tpm.PemText.encode(type, der);
  }
}
