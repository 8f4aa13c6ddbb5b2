package io.github.keylimeattestor.it;

import static io.github.keylimeattestor.it.KeylimeEndToEndIT.ours;
import static io.github.keylimeattestor.it.SpireProcess.msg;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.keylime.emulator.KeylimeStack;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The operator's trust controls with real peers: one Keylime 7.14.3 stack (one swtpm, so every
 * emulated Keylime agent here shares one TPM and one EK), real spire-server with our server plugin
 * set to {@code require_integrity_policy = true} and {@code ek_binding} on its admin socket.
 *
 * <ol>
 *   <li>a node enrolled as the tenant does by default ({@code tpm_policy {"mask": "0x0"}}): the live
 *       verifier reports no policy, and the node is refused;
 *   <li>a node enrolled with a PCR golden value: the verifier reports a TPM policy, the node attests
 *       and carries {@code keylime:policy:tpm};
 *   <li>a second Keylime UUID on the same TPM gets no second agent ID, until the operator evicts the
 *       first.
 * </ol>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TrustControlsIT {
  /** Keylime's tenant policy naming one PCR value: PCR 23 of a fresh swtpm (nothing extends it here). */
  static final String TPM_POLICY = "{\"23\": [\"" + "00".repeat(32) + "\"]}";

  final long started = System.nanoTime();
  KeylimeStack stack;
  SpireTestbed bed;
  final List<SpireProcess> spireAgents = new ArrayList<>();
  String withPolicyId;
  SpireProcess withPolicyAgent;

  @BeforeAll
  void startEverything() throws Exception {
    stack = KeylimeStack.start();
    bed = new SpireTestbed();
    bed.startServer("  agent_ttl = \"10m\"", serverBlock());
    bed.awaitServerHealthy(Duration.ofSeconds(60));
  }

  @AfterAll
  void stopEverything() throws Exception {
    KeylimeFixtures.stopAll("TrustControlsIT", started, spireAgents, bed, stack);
  }

  @Test
  @Order(1)
  void aNodeKeylimeChecksNothingForIsRefused() throws Exception {
    String uuid = enrol(null);
    VerifierAgentStatus s = verifier().getAgent(uuid);
    assertThat(s.tpmPolicy()).contains("{\"mask\": \"0x0\"}");
    assertThat(s.integrityPolicy().names()).as("what the live verifier enforces").containsExactly("none");

    SpireProcess agent = startSpireAgent(uuid);
    bed.server.awaitEntries(e -> ours("attestation refused").test(e) && e.path("agent_uuid").asText().equals(uuid), 1,
        Duration.ofSeconds(90));
    assertThat(refusals(uuid)).singleElement().satisfies(e -> {
      assertThat(e.path("code").asText()).isEqualTo("PERMISSION_DENIED");
      assertThat(e.path("error").asText()).contains("Keylime checks nothing for this node")
          .contains("require_integrity_policy = true");
    });
    assertThat(agent.process().waitFor(60, TimeUnit.SECONDS)).as("spire-agent stops on PermissionDenied").isTrue();
  }

  @Test
  @Order(2)
  void aNodeWithAPcrPolicyAttestsAndCarriesItsPolicySelector() throws Exception {
    String uuid = enrol(TPM_POLICY);
    assertThat(verifier().getAgent(uuid).integrityPolicy().names()).containsExactly("tpm");
    SpireProcess agent = startSpireAgent(uuid);
    agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    withPolicyAgent = agent;
    withPolicyId = "spiffe://example.org/spire/agent/keylime/" + uuid;
    JsonNode mine = agent(withPolicyId);
    assertThat(selectors(mine)).contains("keylime:policy:tpm", "keylime:uuid:" + uuid).doesNotContain("keylime:policy:none");
  }

  @Test
  @Order(3)
  void aSecondUuidOnTheSameTpmGetsNoSecondIdUntilTheOperatorEvictsTheFirst() throws Exception {
    String uuid = enrol(TPM_POLICY);
    SpireProcess agent = startSpireAgent(uuid);
    bed.server.awaitEntries(e -> ours("attestation refused").test(e) && e.path("agent_uuid").asText().equals(uuid), 1,
        Duration.ofSeconds(90));
    assertThat(refusals(uuid)).singleElement().satisfies(e -> {
      assertThat(e.path("code").asText()).isEqualTo("PERMISSION_DENIED");
      assertThat(e.path("error").asText()).contains("already holds agent ID " + withPolicyId)
          .contains("spire-server agent evict -spiffeID " + withPolicyId);
    });
    assertThat(agent.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
    String secondId = "spiffe://example.org/spire/agent/keylime/" + uuid;
    assertThat(agentIds()).contains(withPolicyId).doesNotContain(secondId);

    // the operator's action: the TPM's first identity is evicted (and its spire-agent stopped)
    withPolicyAgent.close();
    bed.run(List.of(SpireBinaries.server().toString(), "agent", "evict", "-socketPath", bed.serverSocket().toString(),
        "-spiffeID", withPolicyId));
    SpireProcess again = startSpireAgent(uuid);
    again.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    assertThat(agentIds()).contains(secondId).doesNotContain(withPolicyId);
  }

  // ------------------------------------------------------------------ helpers

  /** Starts an emulated Keylime agent on the stack's TPM and enrols it (with {@code tpmPolicy} if given). */
  String enrol(String tpmPolicy) throws Exception {
    String uuid = UUID.randomUUID().toString();
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Path dir = stack.dir.resolve("agent-" + uuid);
    stack.startAgent(uuid, port, dir);
    KeylimeEndToEndIT.awaitFile(dir.resolve("agent_data.json"), Duration.ofSeconds(60));
    List<String> args = new ArrayList<>(List.of(stack.dir.toString(), "-c", "add", "-u", uuid, "-t", "127.0.0.1",
        "-tp", Integer.toString(port)));
    if (tpmPolicy != null) {
      args.addAll(List.of("--tpm_policy", tpmPolicy));
    }
    KeylimeFixtures.untilEnrolled(stack, uuid, "tenant.sh", args.toArray(String[]::new));
    VerifierClient v = verifier();
    try {
      // a KeylimeException: not enrolled yet
      await("the verifier's PASS for " + uuid).atMost(Duration.ofSeconds(60)).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(500)).pollInSameThread().ignoreExceptionsInstanceOf(KeylimeException.class)
          .until(() -> v.getAgent(uuid), s -> s.attestationStatus().orElse(null) == AttestationStatus.PASS);
    } catch (ConditionTimeoutException e) {
      throw new AssertionError("the verifier never passed " + uuid + "; emulator log:\n" + stack.agentLog(uuid), e);
    }
    return uuid;
  }

  VerifierClient verifier() throws Exception {
    TlsSettings tls = TlsSettings.builder().caBundle(stack.path("KEYLIME_CA_CERT"))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null).build();
    return new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), tls));
  }

  SpireProcess startSpireAgent(String uuid) throws Exception {
    SpireProcess p = bed.startAgent(agentBlock(uuid), "agent-" + uuid.substring(0, 8) + "-" + spireAgents.size());
    spireAgents.add(p);
    return p;
  }

  List<JsonNode> refusals(String uuid) {
    return bed.server.entries(e -> ours("attestation refused").test(e) && e.path("agent_uuid").asText().equals(uuid));
  }

  JsonNode agent(String spiffeId) throws Exception {
    for (JsonNode a : bed.agentList()) {
      if (id(a).equals(spiffeId)) {
        return a;
      }
    }
    throw new AssertionError(spiffeId + " not in spire-server agent list: " + bed.agentList());
  }

  List<String> agentIds() throws Exception {
    List<String> ids = new ArrayList<>();
    bed.agentList().forEach(a -> ids.add(id(a)));
    return ids;
  }

  static String id(JsonNode a) {
    return "spiffe://" + a.path("id").path("trust_domain").asText() + a.path("id").path("path").asText();
  }

  static List<String> selectors(JsonNode agent) {
    List<String> out = new ArrayList<>();
    agent.path("selectors").forEach(s -> out.add(s.path("type").asText() + ":" + s.path("value").asText()));
    return out;
  }

  String serverBlock() throws Exception {
    return KeylimeFixtures.serverNodeAttestor(KeylimeFixtures.stackConnection(stack) + """
              pcr_policy {
                pcrs = [16]
              }
              require_integrity_policy = true
              ek_binding {
                spire_server_socket = "%s"
              }
        """.formatted(bed.serverSocket()));
  }

  String agentBlock(String uuid) throws Exception {
    return KeylimeFixtures.agentNodeAttestor("""
              tcti = "swtpm:host=127.0.0.1,port=%s"
              agent_data_path = "%s"
              keylime_agent_uuid = "%s"
              app_key_path = "%s"
        """.formatted(stack.get("SWTPM_PORT"), stack.dir.resolve("agent-" + uuid).resolve("agent_data.json"),
        uuid, bed.dir.resolve("app-key-" + uuid + ".blob")));
  }
}
