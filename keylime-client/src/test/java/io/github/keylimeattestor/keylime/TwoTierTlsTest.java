package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A two-tier PKI (root -> intermediate -> DNS-only server and client certificates) against a real
 * OpenSSL server configured as Keylime configures its verifier and registrar: what works, and
 * each misconfiguration's message naming the fix.
 */
class TwoTierTlsTest {
  static final String NAME = "verifier.keylime.test";
  static final KeyPurposeId[] SERVER = {KeyPurposeId.id_kp_serverAuth};
  static final KeyPurposeId[] CLIENT = {KeyPurposeId.id_kp_clientAuth};

  @TempDir Path dir;
  TestPki.Issued root;
  TestPki.Issued inter;
  TestPki.Issued server;
  TestPki.Issued client;
  Path rootPem;
  Path interPem;
  Path rootAndInterPem;
  Path serverChain;
  Path serverKey;
  Path clientLeaf;
  Path clientChain;
  Path clientKey;

  @BeforeEach
  void pki() throws Exception {
    Instant now = Instant.now();
    root = TestPki.ca("Test Root CA");
    inter = TestPki.intermediate(root, "Test Intermediate CA");
    server = TestPki.issue(inter, NAME, TestPki.ec(), now.minusSeconds(60), now.plus(Duration.ofDays(1)), false,
        SERVER, "DNS:" + NAME);
    client = TestPki.issue(inter, "spire-server-keylime-plugin", TestPki.ec(), now.minusSeconds(60),
        now.plus(Duration.ofDays(1)), false, CLIENT);
    rootPem = TestPki.write(dir, "root.pem", TestPki.pem(root.cert()));
    interPem = TestPki.write(dir, "inter.pem", TestPki.pem(inter.cert()));
    rootAndInterPem = TestPki.write(dir, "root-inter.pem", TestPki.pem(root.cert(), inter.cert()));
    serverChain = TestPki.write(dir, "server-chain.pem", TestPki.pem(server.cert(), inter.cert()));
    serverKey = TestPki.write(dir, "server.key", TestPki.pkcs8(server.key()));
    clientLeaf = TestPki.write(dir, "client.pem", TestPki.pem(client.cert()));
    clientChain = TestPki.write(dir, "client-chain.pem", TestPki.pem(client.cert(), inter.cert()));
    clientKey = TestPki.write(dir, "client.key", TestPki.pkcs8(client.key()));
  }

  TlsSettings.Builder tls(Path caBundle, Path cert, Path key) throws IOException {
    return TlsSettings.builder().caBundle(caBundle).clientCertificate(cert, key, null).serverName(NAME);
  }

  static ApiVersion version(OpenSslServer s, TlsSettings t) throws KeylimeException {
    return new RegistrarClient(ClientSettings.of(s.uri(), t)).apiVersion();
  }

  static KeylimeTlsException refused(OpenSslServer s, TlsSettings t) {
    try {
      version(s, t);
    } catch (KeylimeTlsException e) {
      System.err.println(e.getMessage());
      return e;
    } catch (KeylimeException e) {
      throw new AssertionError("expected a TLS refusal, got " + e, e);
    }
    throw new AssertionError("the handshake succeeded");
  }

  @Test
  void rootOnlyAndChainBundlesWithAnIntermediateIssuedClientCertificateAndItsChain() throws Exception {
    try (OpenSslServer s = new OpenSslServer(dir, serverChain, serverKey, rootPem)) {
      assertThat(version(s, tls(rootPem, clientChain, clientKey).build())).isEqualTo(new ApiVersion(2, 6));
      assertThat(version(s, tls(rootAndInterPem, clientChain, clientKey).build())).isEqualTo(new ApiVersion(2, 6));
    }
  }

  @Test
  void newConnectionsToOpenSslResumeTheTlsSession() throws Exception {
    // this server speaks HTTP/1.0 and so closes every connection after one answer
    try (OpenSslServer s = new OpenSslServer(dir, serverChain, serverKey, rootPem)) {
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), tls(rootPem, clientChain, clientKey).build()));
      assertThat(c.apiVersion()).isEqualTo(new ApiVersion(2, 6));
      for (int i = 0; i < 2; i++) {
        assertThatThrownBy(() -> c.getAgent("d432fbb3-d2f1-4a97-9ef7-75bd81c0aaaa"))
            .isInstanceOfSatisfying(KeylimeApiException.class, e -> assertThat(e.isNotFound()).isTrue());
      }
      assertThat(c.transportCounts()).isEqualTo(new TransportCounts(3, 3, 1));
    }
  }

  @Test
  void theKeylimeAgentClientNeverResumesForRustKeylimeRefusesEveryResumedSession() throws Exception {
    // this server speaks HTTP/1.0 and so closes every connection after one answer, as rust-keylime's
    // closes one idle for 5 s between two attestations
    try (OpenSslServer s = OpenSslServer.likeRustKeylime(dir, serverChain, serverKey, rootPem)) {
      RegistrarClient resuming = new RegistrarClient(ClientSettings.of(s.uri(), tls(rootPem, clientChain, clientKey).build()));
      assertThat(resuming.apiVersion()).isEqualTo(new ApiVersion(2, 6));
      assertThatThrownBy(() -> resuming.getAgent("d432fbb3-d2f1-4a97-9ef7-75bd81c0aaaa"))
          .isInstanceOf(KeylimeTlsException.class).hasMessageContaining("internal_error")
          .hasMessageContaining("a server that cannot resume TLS sessions answers a resumed one this way")
          .hasMessageNotContaining("cipher suite");

      KeylimeAgentClient agent = new KeylimeAgentClient(ClientSettings.of(s.uri(), tls(rootPem, clientChain, clientKey).build()));
      assertThat(agent.apiVersion()).isEqualTo(new ApiVersion(2, 6));
      for (int i = 0; i < 3; i++) {
        assertThatThrownBy(agent::getInfo)
            .isInstanceOfSatisfying(KeylimeApiException.class, e -> assertThat(e.isNotFound()).isTrue());
      }
      assertThat(agent.transportCounts()).isEqualTo(new TransportCounts(4, 4, 4));
    }
  }

  @Test
  void keylimeTrustingOnlyTheIntermediateNeedsTheRoot() throws Exception {
    try (OpenSslServer s = new OpenSslServer(dir, serverChain, serverKey, interPem)) {
      KeylimeTlsException e = refused(s, tls(rootPem, clientChain, clientKey).build());
      assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.SERVER);
      assertThat(e.getMessage()).containsPattern("alert unknown_ca|closed the connection")
          .contains("1) add the root CA 'CN=Test Root CA' to the server's trusted_client_ca")
          .contains("not use an intermediate alone as a trust anchor");
    }
  }

  @Test
  void aClientCertificateWithServerAuthOnlyIsAnEkuProblem() throws Exception {
    Instant now = Instant.now();
    TestPki.Issued wrong = TestPki.issue(inter, "server-auth-only", TestPki.ec(), now.minusSeconds(60),
        now.plus(Duration.ofDays(1)), false, SERVER);
    Path cert = TestPki.write(dir, "wrong.pem", TestPki.pem(wrong.cert(), inter.cert()));
    Path key = TestPki.write(dir, "wrong.key", TestPki.pkcs8(wrong.key()));
    try (OpenSslServer s = new OpenSslServer(dir, serverChain, serverKey, rootPem)) {
      KeylimeTlsException e = refused(s, tls(rootPem, cert, key).build());
      assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.SERVER);
      // OpenSSL sends unsupported_certificate; under TLS 1.3 the client may see only the close
      assertThat(e.getMessage()).containsPattern("alert unsupported_certificate|closed the connection")
          .contains("has extendedKeyUsage [serverAuth] without clientAuth")
          .contains("re-issue it with extendedKeyUsage = clientAuth")
          .doesNotContain("trusted_client_ca");
    }
  }

  @Test
  void anExpiredClientCertificateIsToldToBeRenewed() throws Exception {
    Instant now = Instant.now();
    TestPki.Issued old = TestPki.issue(inter, "old-client", TestPki.ec(), now.minus(Duration.ofDays(10)),
        now.minus(Duration.ofDays(1)), false, CLIENT);
    Path cert = TestPki.write(dir, "old.pem", TestPki.pem(old.cert(), inter.cert()));
    Path key = TestPki.write(dir, "old.key", TestPki.pkcs8(old.key()));
    try (OpenSslServer s = new OpenSslServer(dir, serverChain, serverKey, rootPem)) {
      KeylimeTlsException e = refused(s, tls(rootPem, cert, key).build());
      assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.SERVER);
      assertThat(e.getMessage()).contains("our client certificate 'CN=old-client' is EXPIRED on "
          + old.cert().getNotAfter().toInstant()).contains(": renew it");
    }
  }

  @Test
  void aLeafOnlyClientCertificateAgainstARootOnlyServerNeedsTheIntermediateInClientCert() throws Exception {
    try (OpenSslServer s = new OpenSslServer(dir, serverChain, serverKey, rootPem)) {
      KeylimeTlsException e = refused(s, tls(rootPem, clientLeaf, clientKey).build());
      assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.SERVER);
      assertThat(e.getMessage()).contains("1) put the intermediate CA certificate 'CN=Test Intermediate CA' after "
          + "the client certificate in tls.client_cert");
    }
  }

  @Test
  void aServerSendingOnlyItsLeafNeedsTheIntermediateInCaBundle() throws Exception {
    Path leafOnly = TestPki.write(dir, "server-leaf.pem", TestPki.pem(server.cert()));
    try (OpenSslServer s = new OpenSslServer(dir, leafOnly, serverKey, rootPem)) {
      KeylimeTlsException e = refused(s, tls(rootPem, clientChain, clientKey)
          .keys(TlsKeys.under("verifier_tls")).build());
      assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.CLIENT);
      assertThat(e.getMessage())
          .contains("the server sent only its own certificate, issued by 'CN=Test Intermediate CA'")
          .contains("the intermediate is missing, add it to verifier_tls.ca_bundle");
      // and with the intermediate in the bundle it works
      assertThat(version(s, tls(rootAndInterPem, clientChain, clientKey).build())).isEqualTo(new ApiVersion(2, 6));
    }
  }

  @Test
  void expiredAndNotYetValidServerCertificatesLeadWithTheirDates() throws Exception {
    Instant now = Instant.now();
    TestPki.Issued expired = TestPki.issue(inter, NAME, TestPki.ec(), now.minus(Duration.ofDays(10)),
        now.minus(Duration.ofDays(1)), false, SERVER, "DNS:" + NAME);
    TestPki.Issued future = TestPki.issue(inter, NAME, TestPki.ec(), now.plus(Duration.ofDays(1)),
        now.plus(Duration.ofDays(10)), false, SERVER, "DNS:" + NAME);
    for (TestPki.Issued cert : new TestPki.Issued[] {expired, future}) {
      Path chain = TestPki.write(dir, "dated.pem", TestPki.pem(cert.cert(), inter.cert()));
      Path key = TestPki.write(dir, "dated.key", TestPki.pkcs8(cert.key()));
      try (OpenSslServer s = new OpenSslServer(dir, chain, key, rootPem)) {
        KeylimeTlsException e = refused(s, tls(rootPem, clientChain, clientKey).build());
        assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.CLIENT);
        String dates = cert == expired
            ? "the server certificate 'CN=" + NAME + "' is EXPIRED on " + expired.cert().getNotAfter().toInstant()
            : "the server certificate 'CN=" + NAME + "' is NOT YET VALID: valid from "
                + future.cert().getNotBefore().toInstant();
        assertThat(e.getMessage()).contains("refused by this client: " + dates).doesNotContain("not trusted");
      }
    }
  }

  @Test
  void combinedPemFilesWork() throws Exception {
    // key + leaf + intermediate in one file, used as both client_cert and client_key
    Path all = TestPki.write(dir, "all.pem", TestPki.pkcs8(client.key()) + TestPki.pem(client.cert(), inter.cert()));
    // leaf in client_cert, the chain inside the client_key file
    Path keyAndChain = TestPki.write(dir, "key-chain.pem",
        TestPki.pkcs8(client.key()) + TestPki.pem(client.cert(), inter.cert()));
    try (OpenSslServer s = new OpenSslServer(dir, serverChain, serverKey, rootPem)) {
      TlsSettings combined = tls(rootPem, all, all).build();
      assertThat(combined.clientCertificateChain()).containsExactly(client.cert(), inter.cert());
      assertThat(version(s, combined)).isEqualTo(new ApiVersion(2, 6));
      // key + leaf + intermediate as client_cert, with the same key in its own client_key file
      TlsSettings keyInCert = tls(rootPem, all, clientKey).build();
      assertThat(keyInCert.clientCertificateChain()).containsExactly(client.cert(), inter.cert());
      assertThat(version(s, keyInCert)).isEqualTo(new ApiVersion(2, 6));
      TlsSettings chainInKey = tls(rootPem, clientLeaf, keyAndChain).build();
      assertThat(chainInKey.clientCertificateChain()).containsExactly(client.cert(), inter.cert());
      assertThat(version(s, chainInKey)).isEqualTo(new ApiVersion(2, 6));
    }
  }

  @Test
  void pemFilesInTheWrongPlaceSayWhatTheyHoldAndWhereItBelongs() throws Exception {
    Path all = TestPki.write(dir, "all.pem", TestPki.pkcs8(client.key()) + TestPki.pem(client.cert(), inter.cert()));
    // the key sits in client_cert, client_key points at a certificate file
    assertThatThrownBy(() -> tls(rootPem, all, clientChain).build()).isInstanceOf(IOException.class)
        .hasMessageContaining("no private key in tls.client_key " + clientChain
            + " (it holds 2 certificates ['CN=spire-server-keylime-plugin', 'CN=Test Intermediate CA'])")
        .hasMessageContaining("tls.client_cert " + all + " holds one: set tls.client_key to that file too");
    // a private key inside ca_bundle
    assertThatThrownBy(() -> tls(all, clientChain, clientKey).build()).isInstanceOf(IOException.class)
        .hasMessageContaining("tls.ca_bundle " + all + " holds 2 certificates")
        .hasMessageContaining("a private key belongs in tls.client_key");
    // another key beside the certificates in client_cert
    Path otherKeyAndChain = TestPki.write(dir, "other.pem",
        TestPki.pkcs8(TestPki.ec().getPrivate()) + TestPki.pem(client.cert(), inter.cert()));
    assertThatThrownBy(() -> tls(rootPem, otherKeyAndChain, clientKey).build()).isInstanceOf(IOException.class)
        .hasMessageContaining("holds another private key");
    // a certificate outside the client's chain in client_cert
    Path stray = TestPki.write(dir, "stray.pem", TestPki.pem(client.cert(), inter.cert(), TestPki.ca("Other").cert()));
    assertThatThrownBy(() -> tls(rootPem, stray, clientKey).build()).isInstanceOf(IOException.class)
        .hasMessageContaining("not in the chain of the client certificate")
        .hasMessageContaining("'CN=Other'");
  }
}
