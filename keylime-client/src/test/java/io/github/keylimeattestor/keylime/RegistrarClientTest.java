package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RegistrarClientTest {
  @TempDir Path tmp;
  Fixture fx;

  @BeforeEach
  void setUp() throws Exception {
    fx = new Fixture(tmp);
  }

  @Test
  void readsEveryFieldOfTheRegistrarRecord() throws Exception {
    TestPki.Issued ekCa = TestPki.ca("swtpm-localca");
    TestPki.Issued ekCert = TestPki.leaf(ekCa, "unknown", TestPki.rsa());
    TestPki.Issued mtls = TestPki.selfSigned(Fixture.UUID, "IP:127.0.0.1");
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "1.0", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "3.0");
      s.route("/v2.6/agents/" + Fixture.UUID, 200,
          Fixture.registrarRecord(Fixture.UUID, ekCert.cert(), TestPki.pem(mtls.cert())));
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()));

      RegistrarAgent a = c.getAgent(Fixture.UUID);

      assertThat(a.agentId()).isEqualTo(Fixture.UUID);
      assertThat(a.ak().tpm2bPublic()).isEqualTo(Fixture.akTpm2b());
      assertThat(a.ak().parsed().type()).isEqualTo(0x0001);
      assertThat(a.ak().parsed().objectAttributes()).isEqualTo(0x00050072);
      assertThat(a.ak().parsed().keyBits()).isEqualTo(2048);
      assertThat(a.ak().publicKey().getAlgorithm()).isEqualTo("RSA");
      assertThat(((java.security.interfaces.RSAPublicKey) a.ak().publicKey()).getModulus())
          .isEqualTo(new java.math.BigInteger(1, java.util.Arrays.copyOfRange(Fixture.akTpm2b(), 26, 282)));
      assertThat(a.ak().name()).hasSize(34).startsWith(0x00, 0x0b);
      assertThat(a.ek().tpm2bPublic()).isEqualTo(Fixture.ekTpm2b());
      assertThat(a.ek().parsed().objectAttributes()).isEqualTo(0x000300b2);
      assertThat(a.ek().parsed().nameAlg()).isEqualTo(0x000b);
      assertThat(a.ek().parsed().symmetric().keyBits()).isEqualTo(128);
      assertThat(a.ekCertificate()).contains(ekCert.cert());
      assertThat(a.mtlsCertificate()).contains(mtls.cert());
      assertThat(a.mtlsDisabled()).isFalse();
      assertThat(a.ip()).contains("127.0.0.1");
      assertThat(a.port()).contains(9002);
      assertThat(a.regcount()).isEqualTo(1);
      assertThat(c.apiVersion()).isEqualTo(new ApiVersion(2, 6));
      assertThat(s.clientSubjects).allMatch(x -> x.equals("CN=spire-server-plugin"));
      // negotiated once, then cached
      assertThat(s.requests.stream().filter(u -> u.getPath().equals("/version"))).hasSize(1);
    }
  }

  @Test
  void agentWithoutEkCertAndWithMtlsDisabled() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.0", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200,
          Fixture.registrarRecord(Fixture.UUID, null, "disabled"));
      RegistrarAgent a = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls())).getAgent(Fixture.UUID);
      assertThat(a.ekCertificate()).isEmpty();
      assertThat(a.mtlsCertificate()).isEmpty();
      assertThat(a.mtlsDisabled()).isTrue();
    }
  }

  @Test
  void notRegisteredIsAnApiErrorWithKeylimesMessage() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 404,
          "{\"code\": 404, \"status\": \"Agent d432fbb3 not found\", \"results\": {}}");
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeApiException.class, e -> {
            assertThat(e.httpStatus()).isEqualTo(404);
            assertThat(e.isNotFound()).isTrue();
            assertThat(e.isRetryable()).isFalse();
            assertThat(e.keylimeMessage()).isEqualTo("Agent d432fbb3 not found");
            assertThat(e.getMessage()).contains("registrar").contains("404").contains("not found");
          });
    }
  }

  @Test
  void forbiddenCarriesTheDetailOfKeylimesErrorList() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 403,
          "{\"errors\":[{\"status\":\"403\",\"title\":\"Forbidden\",\"detail\":\"Action show_registration requires admin authentication (mTLS certificate)\"}]}");
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeApiException.class, e -> {
            assertThat(e.isForbidden()).isTrue();
            assertThat(e.keylimeMessage()).contains("requires admin authentication");
          });
    }
  }

  @Test
  void malformedRecordsAreRejectedNamingTheField() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()));
      String good = Fixture.registrarRecord(Fixture.UUID, null, null);

      s.route("/v2.6/agents/" + Fixture.UUID, 200, good.replace("\"aik_tpm\"", "\"aik\""));
      assertMalformed(c, "aik_tpm");

      s.route("/v2.6/agents/" + Fixture.UUID, 200,
          good.replace(Fixture.b64(Fixture.akTpm2b()), "not*base64"));
      assertMalformed(c, "aik_tpm");

      // a TPM2B whose size prefix lies
      byte[] bad = Fixture.akTpm2b();
      bad[1] = 0x10;
      s.route("/v2.6/agents/" + Fixture.UUID, 200,
          good.replace(Fixture.b64(Fixture.akTpm2b()), Fixture.b64(bad)));
      assertMalformed(c, "aik_tpm");

      s.route("/v2.6/agents/" + Fixture.UUID, 200, good.replace("\"ekcert\":null", "\"ekcert\":\"not*base64\""));
      assertMalformed(c, "ekcert");

      // an ekcert or mtls_cert that is no certificate the JDK parses (Keylime keeps vendors' malformed
      // EK certificates): the record still reads; the EK certificate check decides what it means
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.registrarRecord(Fixture.UUID, null,
          "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").replace("\"ekcert\":null", "\"ekcert\":\"AAAA\""));
      RegistrarAgent odd = c.getAgent(Fixture.UUID);
      assertThat(odd.ekCertificate()).isEmpty();
      assertThat(odd.ekCertificateUnreadable()).hasValueSatisfying(why -> assertThat(why)
          .contains("the registrar's ekcert is no DER X.509 certificate this JDK parses"));
      assertThat(odd.mtlsCertificate()).isEmpty();
      assertThat(odd.mtlsDisabled()).isFalse();

      s.route("/v2.6/agents/" + Fixture.UUID, 200, good.replace(Fixture.UUID, "someone-else"));
      assertMalformed(c, "agent_id");

      s.route("/v2.6/agents/" + Fixture.UUID, 200, "<html>oops</html>");
      assertMalformed(c, "invalid JSON");

      s.route("/v2.6/agents/" + Fixture.UUID, 200, "{\"code\":200,\"results\":[]}");
      assertMalformed(c, "results");

      // duplicate keys are ambiguous: refuse rather than pick one
      s.route("/v2.6/agents/" + Fixture.UUID, 200,
          "{\"results\":{\"agent_id\":\"" + Fixture.UUID + "\",\"agent_id\":\"x\"}}");
      assertMalformed(c, "Duplicate");
    }
  }

  @Test
  void oversizedBodiesAreRefused() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, "{\"x\":\"" + "a".repeat(HttpTransport.MAX_BODY_BYTES) + "\"}");
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()));
      assertMalformed(c, "larger than");
    }
  }

  @Test
  void noCommonApiVersionIsReportedAsIncompatible() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("3.1", "3.0", "3.1");
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOf(KeylimeIncompatibleException.class)
          .hasMessageContaining("3.0")
          .hasMessageContaining("2.6");
    }
  }

  @Test
  void pinnedVersionSkipsNegotiation() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.route("/v2.1/agents/" + Fixture.UUID, 200, Fixture.registrarRecord(Fixture.UUID, null, null));
      RegistrarClient c =
          new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()).withApiVersion(new ApiVersion(2, 1)));
      assertThat(c.getAgent(Fixture.UUID).agentId()).isEqualTo(Fixture.UUID);
      assertThat(s.requests).extracting(URI::getPath).containsExactly("/v2.1/agents/" + Fixture.UUID);
    }
  }

  @Test
  void rejectsPlainHttpAndBadIds() throws Exception {
    assertThatThrownBy(() -> new RegistrarClient(
            new ClientSettings(List.of(URI.create("http://127.0.0.1:8890")), null, Duration.ofSeconds(1), Optional.empty())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("HTTPS");
    assertThatThrownBy(() -> ClientSettings.of(URI.create("http://127.0.0.1:8891"), fx.tls()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ClientSettings.of(URI.create("https://127.0.0.1:8891"), null))
        .isInstanceOf(IllegalArgumentException.class);
    RegistrarClient c = new RegistrarClient(ClientSettings.of(URI.create("https://127.0.0.1:1"), fx.tls()));
    assertThatThrownBy(() -> c.getAgent("../agents")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> c.getAgent("a/b")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> c.getAgent("a?b")).isInstanceOf(IllegalArgumentException.class);
  }

  private static void assertMalformed(RegistrarClient c, String text) {
    assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
        .isInstanceOf(KeylimeMalformedResponseException.class)
        .hasMessageContaining(text);
  }

  private static long agentReads(FakeKeylimeServer s) {
    return s.requests.stream().filter(u -> u.getPath().equals("/v2.6/agents/" + Fixture.UUID)).count();
  }

  @Test
  void cachedRecordIsServedWithinItsTtlOverOneKeptAliveConnection() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.0", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.registrarRecord(Fixture.UUID, null, "disabled"));
      long[] now = {0};
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()), Duration.ofSeconds(30),
          () -> now[0]);

      RegistrarAgent first = c.getAgent(Fixture.UUID);
      now[0] += Duration.ofSeconds(29).toNanos();
      assertThat(c.getAgent(Fixture.UUID)).isSameAs(first);
      assertThat(agentReads(s)).isEqualTo(1);
      now[0] += Duration.ofSeconds(1).toNanos();
      assertThat(c.getAgent(Fixture.UUID)).isEqualTo(first).isNotSameAs(first);
      assertThat(agentReads(s)).isEqualTo(2);
      c.forget(Fixture.UUID);
      c.getAgent(Fixture.UUID);
      assertThat(agentReads(s)).isEqualTo(3);
      // /version once, three records; one TLS connection and one full handshake for all four
      assertThat(c.transportCounts()).isEqualTo(new TransportCounts(4, 1, 1));
    }
  }

  @Test
  void newerThanReReadsOnceAndGivesTheRecordOnlyIfItChanged() throws Exception {
    TestPki.Issued mtls = TestPki.selfSigned(Fixture.UUID, "IP:127.0.0.1");
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.0", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.registrarRecord(Fixture.UUID, null, "disabled"));
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()), Duration.ofSeconds(30));
      RegistrarAgent cached = c.getAgent(Fixture.UUID);

      assertThat(c.newerThan(cached)).isEmpty(); // unchanged: the failure stands
      assertThat(agentReads(s)).isEqualTo(2);

      // the agent registered again (here: with an mTLS certificate)
      s.route("/v2.6/agents/" + Fixture.UUID, 200,
          Fixture.registrarRecord(Fixture.UUID, null, TestPki.pem(mtls.cert())));
      Optional<RegistrarAgent> fresh = c.newerThan(cached);
      assertThat(fresh).hasValueSatisfying(f -> assertThat(f.mtlsCertificate()).contains(mtls.cert()));
      assertThat(agentReads(s)).isEqualTo(3);
      assertThat(c.getAgent(Fixture.UUID)).isSameAs(fresh.get()); // and it is the one cached now
      assertThat(agentReads(s)).isEqualTo(3);
    }
  }

  @Test
  void withoutACacheEveryReadGoesToTheRegistrarAndNewerThanReadsNothing() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.0", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.registrarRecord(Fixture.UUID, null, "disabled"));
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()));
      RegistrarAgent a = c.getAgent(Fixture.UUID);
      c.getAgent(Fixture.UUID);
      assertThat(agentReads(s)).isEqualTo(2);
      assertThat(c.newerThan(a)).isEmpty();
      assertThat(agentReads(s)).isEqualTo(2);
    }
  }

  @Test
  void errorsAreNotCached() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.0", "2.6");
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()), Duration.ofSeconds(30));
      s.route("/v2.6/agents/" + Fixture.UUID, 404, "{\"code\":404,\"status\":\"agent not found\",\"results\":{}}");
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID)).isInstanceOf(KeylimeApiException.class);
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.registrarRecord(Fixture.UUID, null, "disabled"));
      assertThat(c.getAgent(Fixture.UUID).agentId()).isEqualTo(Fixture.UUID);
    }
  }

  @Test
  void aNewConnectionResumesTheTlsSessionInsteadOfAFullHandshake() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.0", "2.6");
      String record = Fixture.registrarRecord(Fixture.UUID, null, "disabled");
      s.route("/v2.6/agents/" + Fixture.UUID, ex -> {
        ex.getResponseHeaders().set("Connection", "close"); // the server ends each connection
        return new FakeKeylimeServer.Reply(200, record);
      });
      RegistrarClient c = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()));
      c.getAgent(Fixture.UUID);
      c.getAgent(Fixture.UUID);
      c.getAgent(Fixture.UUID);
      // /version and the first record on one connection; two more connections, resumed
      assertThat(c.transportCounts()).isEqualTo(new TransportCounts(4, 3, 1));
    }
  }
}
