package io.github.keylimeattestor.it;

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
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A homelab-style two-tier PKI written as PEM files: root CA -> intermediate CA -> DNS-only server
 * certificates for the verifier and the registrar (P-256 and RSA-3072), and a client certificate
 * for the SPIRE server plugin, all from the intermediate. The same steps with openssl are in
 * examples/spire-conf/keylime-tls.md.
 */
final class TwoTierPki {
  static final String VERIFIER_NAME = "verifier.keylime.test";
  static final String REGISTRAR_NAME = "registrar.keylime.test";
  private static final SecureRandom RNG = new SecureRandom();

  record Issued(X509Certificate cert, KeyPair keys) {}

  final Path dir;
  final Issued root;
  final Issued intermediate;
  final Path rootPem; // ca_bundle, root only; Keylime's trusted_client_ca
  final Path rootAndIntermediatePem; // ca_bundle, chain form
  final Path verifierCert; // leaf + intermediate, Keylime's server_cert
  final Path verifierKey;
  final Path registrarCert;
  final Path registrarKey;
  final Path clientChain; // leaf + intermediate
  final Path clientLeaf; // leaf only
  final Path clientKey;
  final Path clientKeyWithChain; // key + leaf + intermediate (a combined PEM)
  final Path intermediatePem; // a trusted_client_ca with the intermediate alone
  final Path registrarLeafOnly; // a server_cert without the intermediate
  final Path expiredRegistrarCert; // expired yesterday, + intermediate
  final Path expiredRegistrarKey;
  final Path serverAuthOnlyClientCert; // EKU serverAuth only, + intermediate
  final Path serverAuthOnlyClientKey;

  TwoTierPki(Path dir) throws Exception {
    this.dir = dir;
    Files.createDirectories(dir);
    Instant now = Instant.now();
    root = issue(null, "Homelab Root CA", ec(), true, null);
    intermediate = issue(root, "Homelab Intermediate CA", ec(), true, null);
    Issued verifier = issue(intermediate, VERIFIER_NAME, ec(), false, KeyPurposeId.id_kp_serverAuth,
        "DNS:" + VERIFIER_NAME);
    Issued registrar = issue(intermediate, REGISTRAR_NAME, rsa(), false, KeyPurposeId.id_kp_serverAuth,
        "DNS:" + REGISTRAR_NAME);
    Issued client = issue(intermediate, "spire-server keylime plugin", ec(), false, KeyPurposeId.id_kp_clientAuth);
    rootPem = write("root.pem", pem(root.cert()));
    rootAndIntermediatePem = write("root-and-intermediate.pem", pem(root.cert(), intermediate.cert()));
    verifierCert = write("verifier-chain.pem", pem(verifier.cert(), intermediate.cert()));
    verifierKey = write("verifier.key", pkcs8(verifier.keys().getPrivate()));
    registrarCert = write("registrar-chain.pem", pem(registrar.cert(), intermediate.cert()));
    registrarKey = write("registrar.key", pkcs8(registrar.keys().getPrivate()));
    clientChain = write("client-chain.pem", pem(client.cert(), intermediate.cert()));
    clientLeaf = write("client-leaf.pem", pem(client.cert()));
    clientKey = write("client.key", pkcs8(client.keys().getPrivate()));
    clientKeyWithChain = write("client-key-and-chain.pem",
        pkcs8(client.keys().getPrivate()) + pem(client.cert(), intermediate.cert()));
    intermediatePem = write("intermediate.pem", pem(intermediate.cert()));
    registrarLeafOnly = write("registrar-leaf.pem", pem(registrar.cert()));
    Issued expired = issue(intermediate, REGISTRAR_NAME, ec(), false, KeyPurposeId.id_kp_serverAuth,
        now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)), "DNS:" + REGISTRAR_NAME);
    expiredRegistrarCert = write("registrar-expired-chain.pem", pem(expired.cert(), intermediate.cert()));
    expiredRegistrarKey = write("registrar-expired.key", pkcs8(expired.keys().getPrivate()));
    Issued serverAuthOnly = issue(intermediate, "server-auth-only client", ec(), false,
        KeyPurposeId.id_kp_serverAuth);
    serverAuthOnlyClientCert = write("server-auth-only-chain.pem", pem(serverAuthOnly.cert(), intermediate.cert()));
    serverAuthOnlyClientKey = write("server-auth-only.key", pkcs8(serverAuthOnly.keys().getPrivate()));
  }

  private static KeyPair ec() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static KeyPair rsa() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(3072);
    return g.generateKeyPair();
  }

  private static Issued issue(Issued issuer, String cn, KeyPair kp, boolean ca, KeyPurposeId eku, String... dns)
      throws Exception {
    Instant now = Instant.now();
    return issue(issuer, cn, kp, ca, eku, now.minusSeconds(300), now.plus(Duration.ofDays(2)), dns);
  }

  private static Issued issue(Issued issuer, String cn, KeyPair kp, boolean ca, KeyPurposeId eku, Instant notBefore,
      Instant notAfter, String... dns) throws Exception {
    X500Name subject = new X500Name("CN=" + cn + ",O=Homelab");
    X500Name issuerName = issuer == null ? subject
        : X500Name.getInstance(issuer.cert().getSubjectX500Principal().getEncoded());
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName, new BigInteger(64, RNG).add(BigInteger.ONE),
        Date.from(notBefore), Date.from(notAfter), subject, kp.getPublic());
    JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
    b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
    if (issuer != null) {
      b.addExtension(Extension.authorityKeyIdentifier, false,
          ext.createAuthorityKeyIdentifier(issuer.cert().getPublicKey()));
    }
    b.addExtension(Extension.basicConstraints, true, ca ? new BasicConstraints(issuer == null ? 1 : 0)
        : new BasicConstraints(false));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(ca ? KeyUsage.keyCertSign | KeyUsage.cRLSign
        : KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
    if (eku != null) {
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(eku));
    }
    if (dns.length > 0) {
      GeneralName[] names = new GeneralName[dns.length];
      for (int i = 0; i < dns.length; i++) {
        names[i] = new GeneralName(GeneralName.dNSName, dns[i].substring(4));
      }
      b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
    }
    PrivateKey signer = issuer == null ? kp.getPrivate() : issuer.keys().getPrivate();
    String alg = signer.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
    X509Certificate cert = new JcaX509CertificateConverter()
        .getCertificate(b.build(new JcaContentSignerBuilder(alg).build(signer)));
    return new Issued(cert, kp);
  }

  private static String pem(Object... objects) throws IOException {
    StringWriter sw = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
      for (Object o : objects) {
        w.writeObject(o);
      }
    }
    return sw.toString();
  }

  private static String pkcs8(PrivateKey key) throws IOException {
    return pem(new JcaPKCS8Generator(key, null).generate());
  }

  private Path write(String name, String content) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, content);
    if (content.contains("PRIVATE KEY")) { // the plugins refuse a private key others can read
      Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }
    return p;
  }
}
