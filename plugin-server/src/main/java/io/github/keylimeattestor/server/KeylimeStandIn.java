package io.github.keylimeattestor.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.PemText;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The Keylime that {@link KeylimeTraining} talks to, in a JVM of its own so that the class-data archive
 * of the plugin holds only what the plugin runs (a server's TLS, the JDK's HTTP server and the
 * certificate builder would otherwise be mapped, relocated and resident in every plugin process).
 * {@code KeylimeStandIn <dir>} writes a CA, a client certificate and its key (Keylime's own PKI: RSA,
 * keylime/ca_util.py) into {@code dir}, serves a registrar and a verifier on 127.0.0.1 with mutual TLS,
 * then writes "{@code <registrar port> <verifier port>}" to {@code dir/ports}; it stops when its stdin
 * closes.
 */
final class KeylimeStandIn {
  static final String AGENT = "0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10";
  static final String CA = "ca.pem";
  static final String CLIENT_CERT = "client.pem";
  static final String CLIENT_KEY = "client-key.pem";
  static final String PORTS = "ports";
  private static final SecureRandom RANDOM = new SecureRandom();

  private KeylimeStandIn() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    KeyPair caKeys = rsaKeyPair();
    X509Certificate ca = certificate("CA", caKeys, caKeys, null, true);
    KeyPair serverKeys = rsaKeyPair();
    X509Certificate serverCert = certificate("server", serverKeys, caKeys, ca, false);
    KeyPair clientKeys = rsaKeyPair();
    X509Certificate clientCert = certificate("client", clientKeys, caKeys, ca, false);
    Files.writeString(dir.resolve(CA), PemText.encode("CERTIFICATE", ca.getEncoded()));
    Files.writeString(dir.resolve(CLIENT_CERT), PemText.encode("CERTIFICATE", clientCert.getEncoded()));
    Path key = Files.createFile(dir.resolve(CLIENT_KEY),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(key, PemText.encode("PRIVATE KEY", clientKeys.getPrivate().getEncoded()));
    SSLContext tls = serverTls(ca, serverCert, serverKeys);
    HttpsServer registrar = listen(tls, registrarRecord());
    HttpsServer verifier = listen(tls, verifierStatus());
    Path ports = dir.resolve(PORTS + ".tmp");
    Files.writeString(ports, registrar.getAddress().getPort() + " " + verifier.getAddress().getPort());
    Files.move(ports, dir.resolve(PORTS), StandardCopyOption.ATOMIC_MOVE);
    while (System.in.read() != -1) {
      // until the training closes our stdin (or exits)
    }
    registrar.stop(0);
    verifier.stop(0);
    System.exit(0);
  }

  /** The servers' TLS: their certificate, and clients' certificates checked against {@code ca}. */
  private static SSLContext serverTls(X509Certificate ca, X509Certificate cert, KeyPair keys) throws Exception {
    char[] none = new char[0];
    KeyStore own = KeyStore.getInstance("PKCS12");
    own.load(null, null);
    own.setKeyEntry("training", keys.getPrivate(), none, new Certificate[] {cert, ca});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(own, none);
    KeyStore trusted = KeyStore.getInstance("PKCS12");
    trusted.load(null, null);
    trusted.setCertificateEntry("ca", ca);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trusted);
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(kmf.getKeyManagers(), tmf.getTrustManagers(), RANDOM);
    return tls;
  }

  /** A loopback HTTPS server that asks for a client certificate, as Keylime does, and answers {@code record}. */
  private static HttpsServer listen(SSLContext tls, String record) throws IOException {
    HttpsServer server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(tls) {
      @Override
      public void configure(HttpsParameters params) {
        SSLParameters p = tls.getDefaultSSLParameters();
        p.setNeedClientAuth(true);
        params.setSSLParameters(p);
      }
    });
    server.createContext("/", exchange -> answer(exchange, record));
    server.start();
    return server;
  }

  /** {@code /version}, else {@code record}: the registrar's record or the verifier's status. */
  private static void answer(HttpExchange exchange, String record) throws IOException {
    String body = exchange.getRequestURI().getPath().equals("/version")
        ? "{\"code\": 200, \"status\": \"Success\", \"results\": {\"current_version\": \"2.6\", "
            + "\"supported_versions\": [\"2.0\", \"2.1\", \"2.2\", \"2.3\", \"2.4\", \"2.5\", \"2.6\", \"3.0\"]}}"
        : record;
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(200, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  private static String registrarRecord() throws Exception {
    TpmPublic akWithKey = Templates.akRsa(Alg.SHA256).withKey(rsaKeyPair().getPublic());
    KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
    ec.initialize(new ECGenParameterSpec("secp256r1"));
    TpmPublic ekWithKey = Templates.ekEccP256().withKey(ec.generateKeyPair().getPublic());
    Base64.Encoder b64 = Base64.getEncoder();
    return "{\"code\": 200, \"status\": \"Success\", \"results\": {\"agent_id\": \"" + AGENT + "\", "
        + "\"ek_tpm\": \"" + b64.encodeToString(ekWithKey.marshalTpm2b()) + "\", \"ekcert\": null, "
        + "\"aik_tpm\": \"" + b64.encodeToString(akWithKey.marshalTpm2b()) + "\", \"mtls_cert\": \"disabled\", "
        + "\"ip\": \"127.0.0.1\", \"port\": 9002, \"regcount\": 1}}";
  }

  private static String verifierStatus() {
    long now = Instant.now().getEpochSecond();
    return "{\"code\": 200, \"status\": \"Success\", \"results\": {\"operational_state\": 3, \"v\": null, "
        + "\"ip\": \"127.0.0.1\", \"port\": 9002, \"tpm_policy\": \"{\\\"mask\\\": \\\"0x0\\\"}\", "
        + "\"meta_data\": \"{}\", \"has_mb_refstate\": 0, \"has_runtime_policy\": 0, "
        + "\"accept_tpm_hash_algs\": [\"sha256\"], \"accept_tpm_encryption_algs\": [\"rsa\"], "
        + "\"accept_tpm_signing_algs\": [\"rsassa\"], \"hash_alg\": \"sha256\", \"enc_alg\": \"rsa\", "
        + "\"sign_alg\": \"rsassa\", \"verifier_id\": \"default\", \"verifier_ip\": \"127.0.0.1\", "
        + "\"verifier_port\": 8881, \"severity_level\": null, \"last_event_id\": null, \"attestation_count\": 7, "
        + "\"last_received_quote\": " + now + ", \"last_successful_attestation\": " + now + ", "
        + "\"attestation_status\": \"PASS\", \"attestation_period\": \"2s\", \"maximum_attestation_interval\": \"10s\"}}";
  }

  private static KeyPair rsaKeyPair() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    return g.generateKeyPair();
  }

  /** A CA certificate ({@code issuer} null: self-signed) or a leaf for 127.0.0.1, valid for an hour. */
  private static X509Certificate certificate(String cn, KeyPair keys, KeyPair issuerKeys, X509Certificate issuer,
      boolean isCa) throws Exception {
    X500Name subject = new X500Name("CN=keylime-attestor class-data training " + cn);
    X500Name issuerName = issuer == null ? subject : X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
    Instant now = Instant.now();
    JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName,
        new BigInteger(64, RANDOM).setBit(63),
        Date.from(now.minusSeconds(60)), Date.from(now.plus(Duration.ofHours(1))), subject, keys.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(isCa));
    if (isCa) {
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    } else {
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      b.addExtension(Extension.subjectAlternativeName, false,
          new GeneralNames(new GeneralName(GeneralName.iPAddress, "127.0.0.1")));
    }
    return new JcaX509CertificateConverter()
        .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withRSA").build(issuerKeys.getPrivate())));
  }
}
