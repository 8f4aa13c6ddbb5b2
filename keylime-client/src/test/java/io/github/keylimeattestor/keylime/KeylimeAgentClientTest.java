package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeylimeAgentClientTest {
  @TempDir Path tmp;
  Fixture fx;

  @BeforeEach
  void setUp() throws Exception {
    fx = new Fixture(tmp);
  }

  private static final String AGENT_VERSION =
      "{\"code\":200,\"status\":\"Success\",\"results\":{\"supported_version\":\"2.2\",\"supported_versions\":[\"2.1\",\"2.2\"]}}";

  @Test
  void negotiatesAndReadsInfoAndIdentityQuoteOverPinnedMtls() throws Exception {
    // like rust-keylime: self-signed server cert, CN = UUID, SAN IP 127.0.0.1; trusted by pinning
    TestPki.Issued agentId = TestPki.selfSigned(Fixture.UUID, "IP:127.0.0.1");
    try (FakeKeylimeServer s = new FakeKeylimeServer(agentId, fx.clientCa.cert())) {
      s.route("/version", 200, AGENT_VERSION);
      s.route("/v2.2/agent/info", 200, FakeKeylimeServer.envelope(
          "{\"agent_uuid\":\"" + Fixture.UUID + "\",\"tpm_hash_alg\":\"sha256\",\"tpm_enc_alg\":\"rsa\","
              + "\"tpm_sign_alg\":\"rsassa\",\"ak_handle\":2164260864}"));
      s.route("/v2.2/quotes/identity", 200, FakeKeylimeServer.envelope(
          "{\"quote\":\"rAAA:BBB:CCC\",\"hash_alg\":\"sha256\",\"enc_alg\":\"rsa\",\"sign_alg\":\"rsassa\","
              + "\"pubkey\":\"-----BEGIN PUBLIC KEY-----\\nMII\\n-----END PUBLIC KEY-----\\n\"}"));
      TlsSettings tls = TlsSettings.builder()
          .trust(List.of(agentId.cert()))
          .clientCertificate(fx.clientCertPem, fx.clientKeyPem, null)
          .build();
      KeylimeAgentClient c = new KeylimeAgentClient(ClientSettings.of(s.uri(), tls));

      assertThat(c.apiVersion()).isEqualTo(new ApiVersion(2, 2));
      AgentInfo info = c.getInfo();
      assertThat(info.agentUuid()).isEqualTo(Fixture.UUID);
      assertThat(info.tpmHashAlg()).isEqualTo("sha256");
      assertThat(info.tpmEncAlg()).isEqualTo("rsa");
      assertThat(info.tpmSignAlg()).isEqualTo("rsassa");
      assertThat(info.akHandle()).isEqualTo(2164260864L);

      String nonce = "0123456789abcdef".repeat(4);
      AgentQuoteResponse q = c.getIdentityQuote(nonce);
      assertThat(q.quote()).isEqualTo("rAAA:BBB:CCC");
      assertThat(q.hashAlg()).isEqualTo("sha256");
      assertThat(q.pubkey()).hasValueSatisfying(p -> assertThat(p).startsWith("-----BEGIN PUBLIC KEY-----"));
      assertThat(s.requests).anySatisfy(u -> assertThat(u.getRawQuery()).isEqualTo("nonce=" + nonce));
    }
  }

  @Test
  void aPinnedServerNameIsNotSatisfiedByTheDialledIp() throws Exception {
    // like rust-keylime's certificate, which names the agent's IP, plus a DNS name
    TestPki.Issued agentId = TestPki.selfSigned(Fixture.UUID, "IP:127.0.0.1", "DNS:node1.keylime.test");
    try (FakeKeylimeServer s = new FakeKeylimeServer(agentId, fx.clientCa.cert())) {
      s.route("/version", 200, AGENT_VERSION);
      TlsSettings evil = TlsSettings.builder()
          .trust(List.of(agentId.cert()))
          .clientCertificate(fx.clientCertPem, fx.clientKeyPem, null)
          .serverName("evil.example.org")
          .build();
      assertThatThrownBy(() -> new KeylimeAgentClient(ClientSettings.of(s.uri(), evil)).apiVersion())
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> {
            assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.CLIENT);
            assertThat(e.getMessage()).contains("evil.example.org");
          });
      assertThat(s.requests).isEmpty();
      TlsSettings right = TlsSettings.builder()
          .trust(List.of(agentId.cert()))
          .clientCertificate(fx.clientCertPem, fx.clientKeyPem, null)
          .serverName("node1.keylime.test")
          .build();
      assertThat(new KeylimeAgentClient(ClientSettings.of(s.uri(), right)).apiVersion())
          .isEqualTo(new ApiVersion(2, 2));
    }
  }

  @Test
  void infoNeedsApi22() throws Exception {
    try (FakeKeylimeServer s = new FakeKeylimeServer()) {
      s.route("/version", 200,
          "{\"code\":200,\"status\":\"Success\",\"results\":{\"supported_version\":\"2.1\"}}");
      KeylimeAgentClient c = new KeylimeAgentClient(
          new ClientSettings(List.of(s.uri()), null, ClientSettings.DEFAULT_TIMEOUT, java.util.Optional.empty()));
      assertThat(c.apiVersion()).isEqualTo(new ApiVersion(2, 1));
      assertThatThrownBy(c::getInfo).isInstanceOf(KeylimeIncompatibleException.class)
          .hasMessageContaining("2.2");
    }
  }

  @Test
  void rejectsNoncesTheAgentWouldRefuse() throws Exception {
    KeylimeAgentClient c = new KeylimeAgentClient(ClientSettings.of(
        java.net.URI.create("https://127.0.0.1:1"), fx.tls()));
    assertThatThrownBy(() -> c.getIdentityQuote("a".repeat(65))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> c.getIdentityQuote("abc&mask=1")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> c.getIdentityQuote("")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void agentErrorsCarryItsStatusText() throws Exception {
    try (FakeKeylimeServer s = new FakeKeylimeServer()) {
      s.route("/version", 200, AGENT_VERSION);
      s.route("/v2.2/quotes/identity", 400,
          "{\"code\":400,\"status\":\"nonce is too long (max size 64): 65\",\"results\":{}}");
      KeylimeAgentClient c = new KeylimeAgentClient(
          new ClientSettings(List.of(s.uri()), null, ClientSettings.DEFAULT_TIMEOUT, java.util.Optional.empty()));
      assertThatThrownBy(() -> c.getIdentityQuote("abc"))
          .isInstanceOfSatisfying(KeylimeApiException.class, e -> {
            assertThat(e.httpStatus()).isEqualTo(400);
            assertThat(e.keylimeMessage()).isEqualTo("nonce is too long (max size 64): 65");
          });
    }
  }
}
