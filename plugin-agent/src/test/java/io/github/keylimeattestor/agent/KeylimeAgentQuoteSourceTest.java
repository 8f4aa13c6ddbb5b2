package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.sovereign.ClockHistory;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.github.keylimeattestor.sovereign.Nonce;
import io.github.keylimeattestor.sovereign.PcrPolicy;
import io.github.keylimeattestor.sovereign.VerifiedEvidence;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.AgentDataWriter;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * quote_source = "keylime_agent": the quote comes from the Keylime agent's /quotes/identity over
 * mTLS (keylime-client, real TLS), the App Key certification from the TPM with the AK in
 * agent_data.json; the server's EvidenceVerifier must accept the result.
 */
class KeylimeAgentQuoteSourceTest {
  static final String UUID = "5b6a3c1e-2d4f-4e8a-9b7c-1a2b3c4d5e6f";
  static final SecureRandom RANDOM = new SecureRandom();

  static Swtpm swtpm;
  @TempDir static Path dir;
  static KeyBlob ak;
  static TestPki.Issued clientCa;
  static TestPki.Issued agentServer;

  FakeKeylimeAgent agent;
  KeylimeAgentPlugin plugin;
  InProcessAttestor spire;

  @BeforeAll
  static void setUpNode() throws Exception {
    swtpm = Swtpm.start();
    try (var tpm = swtpm.tpm()) {
      KeylimeTpm k = new KeylimeTpm(tpm);
      ak = new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256));
      AgentDataWriter.write(ak, k.ekPublic().toPublicKey(), dir.resolve("agent_data.json"));
    }
    clientCa = TestPki.issue("spire plugin client CA", null, true);
    TestPki.Issued client = TestPki.issue("spire-agent keylime plugin", clientCa, false);
    client.writeCert(dir.resolve("client.crt"));
    client.writeKey(dir.resolve("client.key"));
    agentServer = TestPki.issue(UUID, null, false); // rust-keylime: self-signed, CN = UUID, IP SAN
    agentServer.writeCert(dir.resolve("agent-server.crt"));
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    agent = new FakeKeylimeAgent(UUID, swtpm::tpm, ak, TestPki.serverContext(agentServer, clientCa.cert()));
    plugin = new KeylimeAgentPlugin();
    spire = new InProcessAttestor(plugin.nodeAttestor());
    configure(httpsConfig(agent.port()));
  }

  @AfterEach
  void tearDown() throws Exception {
    spire.close();
    agent.close();
  }

  String httpsConfig(int port) {
    return common() + "keylime_agent_url = \"https://127.0.0.1:" + port + "\"\n"
        + "keylime_agent_tls {\n"
        + "  ca_bundle = \"" + dir.resolve("agent-server.crt") + "\"\n"
        + "  client_cert = \"" + dir.resolve("client.crt") + "\"\n"
        + "  client_key = \"" + dir.resolve("client.key") + "\"\n"
        + "}\n";
  }

  String common() {
    return "swtpm_address = \"127.0.0.1:" + swtpm.port + "\"\n"
        + "agent_data_path = \"" + dir.resolve("agent_data.json") + "\"\n"
        + "app_key_path = \"" + dir.resolve("app_key.blob") + "\"\n"
        + "quote_source = \"keylime_agent\"\n";
  }

  void configure(String hcl) throws Exception {
    plugin.configure(CoreConfiguration.newBuilder().setTrustDomain("example.org").build(), hcl);
  }

  InProcessAttestor.Result attest(Nonce nonce, int... pcrs) throws Exception {
    return spire.attest(p -> WireFormat.encodeChallenge(nonce, PcrSelection.of(Alg.SHA256, pcrs)));
  }

  VerifiedEvidence attestAndVerify() throws Exception {
    Nonce nonce = Nonce.mint(RANDOM);
    InProcessAttestor.Result r = attest(nonce, 16);
    assertThat(r.error()).as("attestation error").isNull();
    return new EvidenceVerifier(new ClockHistory(4)).verify(nonce, new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of()),
        WireFormat.decodePayload(r.payload()), SovereignAttestation.parseFrom(r.response()), ak.publicArea());
  }

  @Test
  void identityQuoteOverMtlsPlusTpmCertifyVerifies() throws Exception {
    VerifiedEvidence v = attestAndVerify();
    assertThat(v.agentId().value()).as("UUID read from /agent/info").isEqualTo(UUID);
    VerifiedEvidence again = attestAndVerify();
    assertThat(again.appKey().marshal()).isEqualTo(v.appKey().marshal());
    try (var tpm = swtpm.tpm()) {
      assertThat(new KeylimeTpm(tpm).transientHandles()).isEmpty();
    }
  }

  @Test
  void reattestationsReuseOneConnectionUntilTheTlsFilesChange() throws Exception {
    attestAndVerify();
    attestAndVerify();
    attestAndVerify();
    var client = plugin.agentClients().current().orElseThrow();
    // /version once, then /agent/info and /quotes/identity per attestation, all over one connection
    assertThat(client.transportCounts()).isEqualTo(new io.github.keylimeattestor.keylime.TransportCounts(7, 1, 1));

    TestPki.Issued rotated = TestPki.issue("spire-agent keylime plugin", clientCa, false);
    rotated.writeCert(dir.resolve("client.crt"));
    rotated.writeKey(dir.resolve("client.key"));
    attestAndVerify();
    assertThat(plugin.agentClients().current()).get().isNotSameAs(client);
  }

  @Test
  void plainHttpWhenTheOperatorWritesHttp() throws Exception {
    try (FakeKeylimeAgent plain = new FakeKeylimeAgent(UUID, swtpm::tpm, ak, null)) {
      configure(common() + "keylime_agent_url = \"http://127.0.0.1:" + plain.port() + "\"\n");
      attestAndVerify();
    }
  }

  @Test
  void aSelectionBeyondTheIdentityQuoteIsReportedOnTheNode() throws Exception {
    InProcessAttestor.Result r = attest(Nonce.mint(RANDOM), 0, 16);
    assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(r.error().getDescription()).contains("quote_source = \"tpm\"");
  }

  @Test
  void anUnreachableKeylimeAgentIsUnavailable() throws Exception {
    int port = agent.port();
    agent.close();
    InProcessAttestor.Result r = attest(Nonce.mint(RANDOM), 16);
    assertThat(r.error().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(r.error().getDescription()).contains("127.0.0.1:" + port).contains("keylime_agent_url");
  }

  @Test
  void aClientCertificateTheAgentDoesNotTrustIsAFailedPrecondition() throws Exception {
    TestPki.Issued otherCa = TestPki.issue("another CA", null, true);
    try (FakeKeylimeAgent picky = new FakeKeylimeAgent(UUID, swtpm::tpm, ak,
        TestPki.serverContext(agentServer, otherCa.cert()))) {
      configure(httpsConfig(picky.port()));
      InProcessAttestor.Result r = attest(Nonce.mint(RANDOM), 16);
      assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(r.error().getDescription()).contains("trusted_client_ca");
    }
  }

  @Test
  void anAgentServerCertificateOutsideTheCaBundleIsRefused() throws Exception {
    TestPki.Issued impostor = TestPki.issue(UUID, null, false);
    try (FakeKeylimeAgent other = new FakeKeylimeAgent(UUID, swtpm::tpm, ak,
        TestPki.serverContext(impostor, clientCa.cert()))) {
      configure(httpsConfig(other.port()));
      InProcessAttestor.Result r = attest(Nonce.mint(RANDOM), 16);
      assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(r.error().getDescription()).contains("keylime_agent_tls.ca_bundle").doesNotContain("tls_server_name");
    }
  }

  @Test
  void aQuoteByAnotherAkIsReportedOnTheNode() throws Exception {
    KeyBlob otherAk;
    try (var tpm = swtpm.tpm()) {
      otherAk = new KeylimeAgentTpm(tpm).createAk(Templates.akRsa(Alg.SHA256));
    }
    try (FakeKeylimeAgent other = new FakeKeylimeAgent(UUID, swtpm::tpm, otherAk,
        TestPki.serverContext(agentServer, clientCa.cert()))) {
      configure(httpsConfig(other.port()));
      InProcessAttestor.Result r = attest(Nonce.mint(RANDOM), 16);
      assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(r.error().getDescription()).contains("agent_data_path");
    }
  }
}
