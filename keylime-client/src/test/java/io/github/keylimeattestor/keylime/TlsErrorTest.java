package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each way a TLS handshake can be refused gives a {@link KeylimeTlsException} saying who and why. */
class TlsErrorTest {
  @TempDir Path tmp;
  Fixture fx;

  @BeforeEach
  void setUp() throws Exception {
    fx = new Fixture(tmp);
  }

  @Test
  void serverCertificateFromAnUntrustedCa() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      TlsSettings wrongCa = TlsSettings.builder()
          .caBundle(fx.rogueCaPem)
          .clientCertificate(fx.clientCertPem, fx.clientKeyPem, null)
          .build();
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), wrongCa));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> {
            assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.CLIENT);
            assertThat(e.isRetryable()).isFalse();
            assertThat(e.getMessage())
                .contains("refused by this client")
                .contains("subject 'CN=server'")
                .contains("issuer 'CN=Keylime Certificate Authority'")
                .contains("tls.ca_bundle holds: ['CN=Rogue CA']")
                .contains("the server sent only its own certificate, issued by 'CN=Keylime Certificate Authority'");
          });
    }
  }

  @Test
  void serverCertificateForAnotherName() throws Exception {
    try (FakeKeylimeServer s = new FakeKeylimeServer(fx.namedServer, fx.clientCa.cert())) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("3", "PASS", 1, 1));
      VerifierClient byIp = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      assertThatThrownBy(() -> byIp.getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> {
            assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.CLIENT);
            assertThat(e.getMessage()).contains("the host dialled '127.0.0.1'")
                .contains("set tls.server_name to one of its DNS names")
                .contains("DNS:verifier.keylime.test")
                .doesNotContain("tls_server_name");
          });

      // tls_server_name: verify against the name in the certificate while dialling the IP
      TlsSettings named = TlsSettings.builder()
          .caBundle(fx.keylimeCaPem)
          .clientCertificate(fx.clientCertPem, fx.clientKeyPem, null)
          .serverName("verifier.keylime.test")
          .build();
      assertThat(new VerifierClient(ClientSettings.of(s.uri(), named)).getAgent(Fixture.UUID)
          .attestationStatus()).contains(AttestationStatus.PASS);

      // and a wrong tls_server_name is still refused
      TlsSettings wrongName = TlsSettings.builder()
          .caBundle(fx.keylimeCaPem)
          .clientCertificate(fx.clientCertPem, fx.clientKeyPem, null)
          .serverName("registrar.keylime.test")
          .build();
      assertThatThrownBy(() -> new VerifierClient(ClientSettings.of(s.uri(), wrongName)).getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> {
            assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.CLIENT);
            assertThat(e.getMessage())
                .contains("does not carry the configured tls.server_name 'registrar.keylime.test'")
                .contains("it names [DNS:verifier.keylime.test]");
          });

      // dialled by a DNS name the certificate lacks: the JDK checks that name too, and the message says so
      java.net.URI byName = java.net.URI.create(s.uri().toString().replace("127.0.0.1", "localhost"));
      assertThatThrownBy(() -> new VerifierClient(ClientSettings.of(byName, named)).getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> assertThat(e.getMessage())
              .contains("does not name the host dialled 'localhost'")
              .contains("the JDK checks that name as well as tls.server_name 'verifier.keylime.test'")
              .doesNotContain("does not carry the configured"));
    }
  }

  @Test
  void serverNamePinsEvenWhenTheCertificateAlsoNamesTheDialledAddress() throws Exception {
    // the certificate names both the dialled 127.0.0.1 and verifier.keylime.test
    TestPki.Issued both =
        TestPki.leaf(fx.keylimeCa, "verifier", TestPki.ec(), "DNS:verifier.keylime.test", "IP:127.0.0.1");
    try (FakeKeylimeServer s = new FakeKeylimeServer(both, fx.clientCa.cert())) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("3", "PASS", 1, 1));
      TlsSettings evil = TlsSettings.builder()
          .caBundle(fx.keylimeCaPem)
          .clientCertificate(fx.clientCertPem, fx.clientKeyPem, null)
          .serverName("evil.example.org")
          .build();
      assertThatThrownBy(() -> new VerifierClient(ClientSettings.of(s.uri(), evil)).getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> {
            assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.CLIENT);
            assertThat(e.getMessage()).contains("evil.example.org").contains("DNS:verifier.keylime.test");
          });
      assertThat(s.requests).as("nothing was sent to a server that does not carry the pinned name").isEmpty();

      TlsSettings right = TlsSettings.builder()
          .caBundle(fx.keylimeCaPem)
          .clientCertificate(fx.clientCertPem, fx.clientKeyPem, null)
          .serverName("VERIFIER.keylime.test.")
          .build();
      assertThat(new VerifierClient(ClientSettings.of(s.uri(), right)).getAgent(Fixture.UUID)
          .attestationStatus()).contains(AttestationStatus.PASS);
    }
  }

  @Test
  void clientCertificateFromACaTheServerDoesNotTrust() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      TlsSettings rogue = TlsSettings.builder()
          .caBundle(fx.keylimeCaPem)
          .clientCertificate(fx.rogueCertPem, fx.rogueKeyPem, null)
          .build();
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), rogue));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> {
            assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.SERVER);
            assertThat(e.getMessage())
                .contains("refused by the server")
                .contains("subject 'CN=rogue-client'")
                .contains("issuer 'CN=Rogue CA'")
                .contains("trusted_client_ca");
          });
    }
  }

  @Test
  void aCertificateRequestIsNeverBlamedForAConnectionThatDidNotOpenOrForAnotherHost() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("3", "PASS", 1, 1));
      TlsSettings tls = fx.tls();
      long before = System.nanoTime();
      new VerifierClient(ClientSettings.of(s.uri(), tls)).getAgent(Fixture.UUID); // the server asks for our certificate
      int port = s.uri().getPort();
      java.net.URI here = java.net.URI.create("https://127.0.0.1:" + port);
      java.net.URI otherHost = java.net.URI.create("https://127.0.0.2:" + port);
      TlsDiagnosis d = new TlsDiagnosis("verifier", ClientSettings.of(here, tls));
      // TLS 1.3: a server that refuses our certificate may just close; that is what the request is for
      assertThat(d.classify(new java.io.EOFException(), here, before))
          .isInstanceOfSatisfying(KeylimeTlsException.class,
              e -> assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.SERVER));
      // a ConnectException is a SocketException too, but nothing was ever connected
      assertThat(d.classify(new java.net.ConnectException("Connection refused"), here, before))
          .isInstanceOf(KeylimeUnavailableException.class).hasMessageContaining("connection refused or unreachable");
      // another Keylime on the same port (failover): this server's request says nothing about it
      assertThat(d.classify(new java.io.EOFException(), otherHost, before)).isInstanceOf(KeylimeUnavailableException.class);
    }
  }

  @Test
  void noClientCertificateWhereOneIsRequired() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      TlsSettings none = TlsSettings.builder().caBundle(fx.keylimeCaPem).build();
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), none));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> {
            assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.SERVER);
            assertThat(e.getMessage()).contains("none is configured");
          });
    }
  }

  @Test
  void httpsToAPlainHttpPort() throws Exception {
    // like Keylime's plain-HTTP registrar port: answers a TLS ClientHello with an HTTP 400
    try (java.net.ServerSocket plain =
        new java.net.ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress())) {
      Thread t = new Thread(() -> {
        try (java.net.Socket sock = plain.accept()) {
          sock.getInputStream().read(new byte[512]);
          sock.getOutputStream().write(
              "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        } catch (java.io.IOException e) {
          // test server: ignore
        }
      });
      t.setDaemon(true);
      t.start();
      RegistrarClient c = new RegistrarClient(ClientSettings.of(
          java.net.URI.create("https://127.0.0.1:" + plain.getLocalPort()), fx.tls()));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOf(KeylimeTlsException.class)
          .hasMessageContaining("HTTPS port");
    }
  }

  @Test
  void refusesToRunWithJvmWideHostnameVerificationOff() throws Exception {
    String key = "jdk.internal.httpclient.disableHostnameVerification";
    System.setProperty(key, "true");
    try {
      assertThatThrownBy(() -> new VerifierClient(
              ClientSettings.of(java.net.URI.create("https://127.0.0.1:1"), fx.tls())))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("disableHostnameVerification");
    } finally {
      System.clearProperty(key);
    }
  }
}
