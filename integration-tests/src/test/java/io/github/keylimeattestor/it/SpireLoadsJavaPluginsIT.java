package io.github.keylimeattestor.it;

import static io.github.keylimeattestor.it.SpireProcess.msg;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Unmodified spire-server and spire-agent v1.15.3 load the test attestor executable (built on
 * plugin-sdk), configure it from plugin_data, attest and re-attest through it, and unload it.
 * Everything is read from SPIRE's own output: its JSON log and {@code spire-server agent list}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SpireLoadsJavaPluginsIT {
  static final String SERVER_DATA = """
      "shared_secret" = "s3cret-for-tests"
          challenge_size = 48
          allowed_nodes = ["node-1", "node-2"]
          log_challenges = true
          labels {
            rack = "r1"
            zone = "z-9"
          }
          timeouts "attest" {
            seconds = 5
          }""";
  static final String SERVER_DATA_PARSED = "{\"allowed_nodes\":[\"node-1\",\"node-2\"],\"challenge_size\":48,"
      + "\"labels\":{\"rack\":\"r1\",\"zone\":\"z-9\"},\"log_challenges\":true,\"shared_secret\":\"s3cret-for-tests\","
      + "\"timeouts\":{\"attest\":{\"seconds\":5}}}";
  static final String AGENT_DATA = """
      node_name = "node-1"
          shared_secret = "s3cret-for-tests\"""";
  static final String AGENT_DATA_PARSED = "{\"node_name\":\"node-1\",\"shared_secret\":\"s3cret-for-tests\"}";
  static final String AGENT_ID = "spiffe://example.org/spire/agent/test_attestor/node-1";

  SpireTestbed bed;
  Path exe;

  @BeforeAll
  void startSpire() throws Exception {
    exe = Path.of(System.getProperty("test.attestor", "target/test-attestor")).toAbsolutePath();
    String sha = Files.readString(Path.of(exe + ".sha256")).split("\\s+")[0];
    bed = new SpireTestbed();
    bed.startServer("  agent_ttl = \"20s\"", block("server", sha, SERVER_DATA));
    bed.awaitServerHealthy(Duration.ofSeconds(60));
    bed.startAgent(block("agent", null, AGENT_DATA));
  }

  static String block(String role, String checksum, String data) {
    return """
          NodeAttestor "test_attestor" {
            plugin_cmd = "%s"
            plugin_args = ["%s"]
            %s
            plugin_data {
              %s
            }
          }
        """.formatted(System.getProperty("test.attestor"), role,
        checksum == null ? "" : "plugin_checksum = \"" + checksum + "\"", data);
  }

  @AfterAll
  void stopSpire() throws Exception {
    if (bed != null) {
      bed.close();
    }
  }

  static Predicate<JsonNode> ours(String message) {
    return e -> message.equals(e.path("msg").asText()) && "test_attestor".equals(e.path("plugin_name").asText());
  }

  @Test
  @Order(1)
  void bothSidesLoadTheExternalPluginAndGetExactlyTheirPluginData() throws Exception {
    for (SpireProcess p : List.of(bed.server, bed.agent)) {
      JsonNode loaded = p.awaitEntries(ours("Plugin loaded"), 1, Duration.ofSeconds(60)).get(0);
      assertThat(loaded.path("external").asBoolean()).isTrue();
      assertThat(loaded.path("plugin_type").asText()).isEqualTo("NodeAttestor");
    }
    JsonNode serverConf = bed.server.awaitEntries(ours("test attestor configuration received"), 1, Duration.ofSeconds(5)).get(0);
    assertThat(serverConf.path("parsed").asText()).isEqualTo(SERVER_DATA_PARSED);
    JsonNode agentConf = bed.agent.awaitEntries(ours("test attestor configuration received"), 1, Duration.ofSeconds(60)).get(0);
    assertThat(agentConf.path("parsed").asText()).isEqualTo(AGENT_DATA_PARSED);
    System.err.println("server plugin_data as SPIRE sent it:\n" + serverConf.path("hcl").asText());
  }

  @Test
  @Order(2)
  void agentAttestsWithTheExpectedIdAndCanReattest() throws Exception {
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(60));
    JsonNode agents = bed.agentList();
    assertThat(agents).hasSize(1);
    JsonNode a = agents.get(0);
    assertThat(a.path("id").path("trust_domain").asText()).isEqualTo("example.org");
    assertThat(a.path("id").path("path").asText()).isEqualTo("/spire/agent/test_attestor/node-1");
    assertThat(a.path("attestation_type").asText()).isEqualTo("test_attestor");
    assertThat(a.path("can_reattest").asBoolean()).isTrue();
    List<String> selectors = new ArrayList<>();
    a.path("selectors").forEach(s -> selectors.add(s.path("type").asText() + ":" + s.path("value").asText()));
    assertThat(selectors).containsExactlyInAnyOrder("test_attestor:node:node-1", "test_attestor:label:rack:r1",
        "test_attestor:label:zone:z-9");
  }

  @Test
  @Order(3)
  void agentReattestsThroughThePlugin() throws Exception {
    bed.agent.awaitEntries(msg("Successfully reattested node"), 1, Duration.ofSeconds(90));
    assertThat(bed.server.entries(ours("node attested"))).hasSizeGreaterThanOrEqualTo(2);
  }

  @Test
  @Order(4)
  void pluginLogLinesArriveAtTheirLevels() {
    assertThat(bed.server.entries(ours("test attestor configuration received")))
        .allMatch(e -> e.path("level").asText().equals("info"));
    assertThat(bed.server.entries(ours("test attestor in use: shared-secret attestation is for tests only")))
        .isNotEmpty().allMatch(e -> e.path("level").asText().equals("warning"));
    assertThat(bed.agent.entries(ours("sending attestation payload")))
        .isNotEmpty().allMatch(e -> e.path("level").asText().equals("debug"));
  }

  @Test
  @Order(5)
  void stoppingSpireLeavesNoPluginProcessOrSocket() throws Exception {
    List<JsonNode> serving = new ArrayList<>(bed.server.entries(ours("plugin serving")));
    serving.addAll(bed.agent.entries(ours("plugin serving")));
    assertThat(serving).hasSizeGreaterThanOrEqualTo(2);
    List<ProcessHandle> plugins = serving.stream().map(s -> ProcessHandle.of(s.path("pid").asLong()))
        .flatMap(Optional::stream).toList();
    // SPIRE alone is signalled: its plugins must end because SPIRE ends them (go-plugin's Shutdown),
    // not because this harness kills what is left (SpireProcess.stop does, for cleanup)
    assertThat(bed.agent.stopSpireAlone(Duration.ofSeconds(15))).isZero();
    assertThat(bed.server.stopSpireAlone(Duration.ofSeconds(15))).isZero();
    try {
      for (ProcessHandle h : plugins) {
        try {
          h.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
          // asserted below
        }
        assertThat(h.isAlive()).as("plugin pid %d still alive 10 s after SPIRE exited", h.pid()).isFalse();
      }
    } finally {
      plugins.forEach(ProcessHandle::destroyForcibly); // SPIRE is gone: nothing else would stop them
    }
    assertThat(bed.agent.stop(Duration.ofSeconds(15))).isZero();
    assertThat(bed.server.stop(Duration.ofSeconds(15))).isZero();
    for (JsonNode s : serving) {
      Path socket = Path.of(s.path("socket").asText());
      assertThat(socket).doesNotExist();
      assertThat(socket.getParent()).doesNotExist();
    }
    for (SpireProcess p : List.of(bed.server, bed.agent)) {
      assertThat(p.entries(e -> e.path("msg").asText().contains("plugin failed to exit gracefully"))).isEmpty();
    }
  }
}
