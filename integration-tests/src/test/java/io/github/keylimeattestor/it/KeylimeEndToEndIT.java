package io.github.keylimeattestor.it;

import static io.github.keylimeattestor.it.SpireProcess.msg;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.keylime.emulator.KeylimeStack;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The whole chain with real peers: swtpm, a real Keylime 7.14.3 verifier and registrar (the
 * Keylime agent is the project's pull-agent emulator, since rust-keylime is in no registry), real
 * SPIRE v1.15.3, and our two plugin executables. Tests run in order on one shared setup.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KeylimeEndToEndIT {
  static final String AGENT_TTL = System.getProperty("e2e.agent_ttl", "6s");
  static final int REATTESTATIONS = Integer.getInteger("e2e.reattestations", 35);
  static final int KLA_REATTESTATIONS = Integer.getInteger("e2e.kla.reattestations", 5);

  KeylimeStack stack;
  SpireTestbed bed;
  Process emulator;
  String uuid;
  int emulatorPort;
  Path emulatorDir;
  String agentId;
  int metricsPort;
  int agentMetricsPort;

  @BeforeAll
  void startEverything() throws Exception {
    stack = KeylimeStack.start();
    uuid = UUID.randomUUID().toString();
    KeylimeFixtures.Emulator node = KeylimeFixtures.startEnrolledEmulator(stack, uuid);
    emulatorPort = node.port();
    emulatorDir = node.dir();
    emulator = node.process();
    awaitVerifier(s -> s.attestationStatus().orElse(null) == AttestationStatus.PASS, Duration.ofSeconds(60));

    bed = new SpireTestbed();
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      metricsPort = s.getLocalPort();
    }
    bed.startServer("  agent_ttl = \"" + AGENT_TTL + "\"", serverBlock(),
        "telemetry {\n  Prometheus {\n    host = \"127.0.0.1\"\n    port = " + metricsPort + "\n  }\n}\n");
    bed.awaitServerHealthy(Duration.ofSeconds(60));
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      agentMetricsPort = s.getLocalPort();
    }
    bed.startAgent(agentBlock("tpm"), "agent", SpireTestbed.diskKeyManager("agent"),
        "telemetry {\n  Prometheus {\n    host = \"127.0.0.1\"\n    port = " + agentMetricsPort + "\n  }\n}\n");
    agentId = "spiffe://example.org/spire/agent/keylime/" + uuid;
  }

  @AfterAll
  void stopEverything() throws Exception {
    try {
      if (bed != null) {
        bed.close();
      }
    } finally {
      if (stack != null) {
        stack.close();
      }
    }
  }

  static void awaitFile(Path p, Duration timeout) throws InterruptedException {
    await(p + " appearing").atMost(timeout).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(200))
        .pollInSameThread().until(() -> Files.exists(p));
  }

  VerifierClient verifierClient() throws Exception {
    TlsSettings tls = TlsSettings.builder().caBundle(stack.path("KEYLIME_CA_CERT"))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null).build();
    return new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), tls));
  }

  VerifierAgentStatus awaitVerifier(Predicate<VerifierAgentStatus> condition, Duration timeout) throws Exception {
    VerifierClient v = verifierClient();
    // a KeylimeException: not enrolled yet
    return await("the verifier's status of " + uuid + " matching").atMost(timeout).pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(500)).pollInSameThread()
        .ignoreExceptionsInstanceOf(io.github.keylimeattestor.keylime.KeylimeException.class)
        .until(() -> v.getAgent(uuid), condition);
  }

  String serverBlock() throws Exception {
    return KeylimeFixtures.serverNodeAttestor(KeylimeFixtures.stackConnection(stack) + """
              ek_ca_bundle = "%s"
              require_ek_cert = true
              attestation_policy {
                max_attestation_age = "60s"
              }
              pcr_policy {
                pcrs = [16]
              }
              selectors {
                pcrs = [16]
              }
              challenge_timeout = "30s"
        """.formatted(stack.get("EK_CA_BUNDLE")));
  }

  String agentBlock(String quoteSource) throws Exception {
    String source = quoteSource.equals("tpm") ? "" : """
              quote_source = "keylime_agent"
              keylime_agent_url = "https://127.0.0.1:%d"
              keylime_agent_tls {
                ca_bundle = "%s"
                client_cert = "%s"
                client_key = "%s"
              }
        """.formatted(emulatorPort, emulatorDir.resolve("server-cert.crt"), stack.get("SPIRE_CLIENT_CERT"),
        stack.get("SPIRE_CLIENT_KEY"));
    return KeylimeFixtures.agentNodeAttestor("""
              tcti = "swtpm:host=127.0.0.1,port=%s"
              agent_data_path = "%s"
              keylime_agent_uuid = "%s"
              app_key_path = "%s"
        %s
        """.formatted(stack.get("SWTPM_PORT"), emulatorDir.resolve("agent_data.json"), uuid,
        bed.dir.resolve("app-key-" + quoteSource + ".json"), source));
  }

  static Predicate<JsonNode> ours(String message) {
    return e -> message.equals(e.path("msg").asText()) && "keylime".equals(e.path("plugin_name").asText());
  }

  @Test
  @Order(1)
  void agentAttestsWithTheExpectedIdAndSelectors() throws Exception {
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    JsonNode agents = bed.agentList();
    assertThat(agents).hasSize(1);
    JsonNode a = agents.get(0);
    assertThat("spiffe://" + a.path("id").path("trust_domain").asText() + a.path("id").path("path").asText()).isEqualTo(agentId);
    assertThat(a.path("attestation_type").asText()).isEqualTo("keylime");
    assertThat(a.path("can_reattest").asBoolean()).isTrue();
    List<String> selectors = new ArrayList<>();
    a.path("selectors").forEach(s -> selectors.add(s.path("type").asText() + ":" + s.path("value").asText()));
    assertThat(selectors).contains("keylime:uuid:" + uuid, "keylime:attestation_status:pass",
        "keylime:tpm:manufacturer:id:00001014", "keylime:tpm:model:swtpm", "keylime:tpm:firmware:"
        + Tpm2Tools.firmwareVersion("swtpm:host=127.0.0.1,port=" + stack.get("SWTPM_PORT"), bed.dir));
    assertThat(selectors).anyMatch(s -> s.matches("keylime:ek_hash:[0-9a-f]{64}"))
        .anyMatch(s -> s.matches("keylime:app_key:[0-9a-f]{64}"))
        .anyMatch(s -> s.matches("keylime:pcr:sha256:16:[0-9a-f]{64}"));
  }

  @Test
  @Order(2)
  void aWorkloadGetsAnX509SvidThroughAnEntryOnKeylimeSelectors() throws Exception {
    bed.awaitWorkloadSvidUnderNode(uuid);
  }

  @Test
  @Order(3)
  void reattestsManyTimesWithoutThreadOrFdGrowth() throws Exception {
    List<JsonNode> serving = new ArrayList<>(bed.server.entries(ours("plugin serving")));
    serving.addAll(bed.agent.entries(ours("plugin serving")));
    assertThat(serving).hasSize(2);
    bed.agent.awaitEntries(msg("Successfully reattested node"), 5, Duration.ofMinutes(3));
    long[] pids = serving.stream().mapToLong(e -> e.path("pid").asLong()).toArray();
    int[] threads0 = new int[pids.length];
    int[] fds0 = new int[pids.length];
    for (int i = 0; i < pids.length; i++) {
      threads0[i] = ProcStats.threads(pids[i]);
      fds0[i] = ProcStats.fds(pids[i]);
    }
    bed.agent.awaitEntries(msg("Successfully reattested node"), REATTESTATIONS, Duration.ofMinutes(12));
    for (int i = 0; i < pids.length; i++) {
      // the fewest threads over a few seconds: pool threads that come and go (HTTP client, gRPC
      // executor) are not growth; a thread leaked per re-attestation would still show as +30
      int t = Integer.MAX_VALUE;
      for (int sample = 0; sample < 5; sample++) {
        t = Math.min(t, ProcStats.threads(pids[i]));
        Thread.sleep(1000);
      }
      int f = ProcStats.fds(pids[i]);
      System.err.printf("plugin pid %d: threads %d -> %d, fds %d -> %d%n", pids[i], threads0[i], t, fds0[i], f);
      assertThat(t).as("threads of plugin %d", pids[i]).isLessThanOrEqualTo(threads0[i] + 2);
      assertThat(f).as("fds of plugin %d", pids[i]).isLessThanOrEqualTo(fds0[i] + 2);
    }
    assertThat(bed.server.entries(ours("attestation refused"))).isEmpty();
    assertThat(bed.server.entries(ours("node attested"))).hasSizeGreaterThanOrEqualTo(REATTESTATIONS + 1);
    LatencyReport.print(bed);
  }

  @Test
  @Order(4)
  void ourMetricsReachSpireThroughTheBrokeredMetricsHostService() throws Exception {
    java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    List<String> ours = r.body().lines().filter(l -> l.contains("keylime_attestor") && !l.startsWith("#")).toList();
    System.err.println("keylime_attestor metrics in SPIRE's Prometheus endpoint:\n" + String.join("\n", ours));
    assertThat(ours).anyMatch(l -> l.contains("keylime_attestor_attestation") && l.contains("outcome=\"ok\""))
        .anyMatch(l -> l.contains("keylime_attestor_phase_ms") && l.contains("phase=\"evidence\""));
  }

  /**
   * Every metric and label that examples/prometheus and examples/grafana use is one that this real
   * spire-server or spire-agent exports for our plugins (names as SPIRE's Prometheus sink makes them).
   */
  @Test
  @Order(4)
  void dashboardAndAlertRulesUseOnlyMetricsSpireExports() throws Exception {
    Map<String, Set<String>> exported = MetricNames.scrape(metricsPort);
    MetricNames.scrape(agentMetricsPort).forEach((k, v) -> exported.merge(k, v, (a, b) -> {
      a.addAll(b);
      return a;
    }));
    System.err.println("keylime_attestor metric families and labels: " + exported);
    assertThat(exported).containsKeys("spire_server_keylime_attestor_attestation",
        "spire_server_keylime_attestor_phase_ms", "spire_agent_keylime_attestor_attestation",
        "spire_agent_keylime_attestor_tpm_ms");
    List<String> exprs = MetricNames.ruleExpressions(SpireBinaries.projectFile("examples/prometheus/keylime-attestor-rules.yaml"));
    exprs.addAll(MetricNames.dashboardExpressions(SpireBinaries.projectFile("examples/grafana/keylime-attestor-dashboard.json")));
    assertThat(exprs).hasSizeGreaterThanOrEqualTo(12);
    for (String expr : exprs) {
      MetricNames.uses(expr).forEach((metric, labels) -> {
        assertThat(exported).as("metric %s in %s", metric, expr).containsKey(metric);
        assertThat(exported.get(metric)).as("labels of %s in %s", metric, expr).containsAll(labels);
      });
    }
  }

  @Test
  @Order(4)
  void bothPluginsLogTheirVersionAndCommitAtConfigure() throws Exception {
    java.util.Properties built = new java.util.Properties();
    try (var in = Files.newInputStream(
        SpireBinaries.projectFile("plugin-agent/target/classes/META-INF/keylime-attestor/build.properties"))) {
      built.load(in);
    }
    for (SpireProcess p : List.of(bed.server, bed.agent)) {
      assertThat(p.entries(ours("configured"))).isNotEmpty().allSatisfy(e -> {
        assertThat(e.path("version").asText()).isEqualTo(built.getProperty("version"));
        assertThat(e.path("commit").asText()).isEqualTo(built.getProperty("commit"));
      });
    }
  }

  @Test
  @Order(4)
  void nothingOfOursListensSoTheVerifierCannotCallUs() throws Exception {
    List<JsonNode> serving = new ArrayList<>(bed.server.entries(ours("plugin serving")));
    serving.addAll(bed.agent.entries(ours("plugin serving")));
    for (JsonNode s : serving) {
      assertThat(ProcStats.listeningInetSockets(s.path("pid").asLong())).isEmpty();
      assertThat(s.path("socket").asText()).startsWith("/");
    }
  }

  @Test
  @Order(5)
  void quoteSourceKeylimeAgentWorksToo() throws Exception {
    bed.agent.stop(Duration.ofSeconds(15));
    int before = bed.server.entries(ours("node attested")).size();
    bed.startAgent(agentBlock("keylime_agent"), "agent-kla");
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    bed.agent.awaitEntries(msg("Successfully reattested node"), KLA_REATTESTATIONS, Duration.ofMinutes(3));
    assertThat(bed.server.entries(ours("node attested")).size()).isGreaterThanOrEqualTo(before + 3);
    System.err.println("quote_source = \"keylime_agent\":");
    LatencyReport.print(bed); // this agent's re-attestations (the server figures include the earlier ones)
    assertThat(bed.agent.entries(ours("configured"))).anyMatch(e -> e.path("quote_source").asText().equals("keylime_agent"));
    // The emulator logs each API call with the caller's client certificate: the plugin used its own.
    assertThat(stack.agentLog(uuid)).containsPattern("GET /v2\\.\\d/quotes/identity from CN=spire-server-keylime-plugin");
  }

  @Test
  @Order(6)
  void aNodeKeylimeFailsIsRefusedWithPermissionDeniedAtItsNextReattestation() throws Exception {
    KeylimeStack.kill(emulator);
    awaitVerifier(s -> s.operationalState().map(OperationalState::isFailure).orElse(false), Duration.ofSeconds(90));
    SpireProcess agent = bed.agent;
    agent.awaitEntries(e -> e.path("msg").asText().contains("PermissionDenied")
        || e.path("error").asText().contains("PermissionDenied"), 1, Duration.ofSeconds(90));
    assertThat(agent.process().waitFor(60, TimeUnit.SECONDS)).as("spire-agent stops on PermissionDenied").isTrue();
    assertThat(bed.server.entries(ours("attestation refused")))
        .anyMatch(e -> e.path("code").asText().equals("PERMISSION_DENIED"));
  }

  @Test
  @Order(7)
  void anUnreachableVerifierGivesUnavailable() throws Exception {
    String pgid = Files.readString(stack.dir.resolve("pids/verifier.pgid")).trim();
    new ProcessBuilder("kill", "-KILL", "--", "-" + pgid).start().waitFor();
    bed.startAgent(agentBlock("tpm"), "agent-unavailable");
    bed.agent.awaitEntries(e -> e.toString().contains("Unavailable"), 1, Duration.ofSeconds(90));
    assertThat(bed.server.entries(ours("attestation refused")))
        .anyMatch(e -> e.path("code").asText().equals("UNAVAILABLE"));
  }
}
