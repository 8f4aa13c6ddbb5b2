package io.github.keylimeattestor.it;

import static io.github.keylimeattestor.it.KeylimeEndToEndIT.ours;
import static io.github.keylimeattestor.it.SpireProcess.msg;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.KeylimeException;
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
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The revocation watch with real peers: swtpm, a real Keylime 7.14.3 verifier and registrar (the
 * Keylime agent is the project's pull-agent emulator), real SPIRE v1.15.3 and our plugins. The
 * emulator is killed so that Keylime marks the node FAILED; the test measures the time from the
 * verifier's FAILED to the agent gone from {@code spire-server agent list} and to the workload's
 * next fetch failing, with the watch's defaults (2 s interval). agent_ttl is 10 minutes, so
 * nothing but the watch can cut the agent off in that time.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RevocationIT {
  static final Duration TARGET = Duration.ofSeconds(10);

  final long started = System.nanoTime();
  KeylimeStack stack;
  SpireTestbed bed;
  Process emulator;
  String uuid;
  int emulatorPort;
  Path emulatorDir;
  String agentId;
  int metricsPort;
  int agents;
  /** Every spire-agent started (the testbed keeps only the latest); all are stopped at the end. */
  final List<SpireProcess> spireAgents = new java.util.ArrayList<>();

  @BeforeAll
  void startEverything() throws Exception {
    stack = KeylimeStack.start();
    uuid = UUID.randomUUID().toString();
    emulatorPort = freePort();
    metricsPort = freePort();
    emulatorDir = stack.dir.resolve("agent-" + uuid);
    agentId = "spiffe://example.org/spire/agent/keylime/" + uuid;
    bed = new SpireTestbed();
    // keys on disk: the server keeps its CA across the restart of test 3, so its agents stay valid
    bed.serverKeyManager = "KeyManager \"disk\" {\n    plugin_data {\n      keys_path = \"./data/server/keys.json\"\n"
        + "    }\n  }";
    repairAndEnrolNode(false);
    startServer("evict");
    startAgent();
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    String server = SpireBinaries.server().toString();
    String sock = bed.serverSocket().toString();
    bed.run(List.of(server, "entry", "create", "-socketPath", sock, "-node", "-spiffeID",
        "spiffe://example.org/keylime-nodes", "-selector", "keylime:uuid:" + uuid));
    long uid = ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
    bed.run(List.of(server, "entry", "create", "-socketPath", sock, "-parentID", "spiffe://example.org/keylime-nodes",
        "-spiffeID", "spiffe://example.org/workload", "-selector", "unix:uid:" + uid));
  }

  @AfterAll
  void stopEverything() throws Exception {
    KeylimeFixtures.stopAll("RevocationIT", started, spireAgents, bed, stack);
  }

  @Test
  @Order(1)
  void evictCutsOffANodeKeylimeFailsWithinTenSeconds() throws Exception {
    awaitWorkloadFetch(true, Duration.ofSeconds(60));
    // the watch only calls out: the server plugin still listens on no network socket
    long pid = bed.server.entries(ours("plugin serving")).get(0).path("pid").asLong();
    assertThat(bed.server.entries(ours("revocation watch started"))).hasSize(1);
    assertThat(ProcStats.listeningInetSockets(pid)).isEmpty();
    Cutoff c = failNodeAndMeasure();
    c.print("evict");
    assertThat(c.gone).as("FAILED -> agent gone from spire-server agent list").isLessThanOrEqualTo(TARGET);
    assertThat(c.fetchFails).as("FAILED -> workload fetch fails").isLessThanOrEqualTo(TARGET);
    assertThat(bed.server.entries(ours("revocation watch: agent evicted")))
        .anyMatch(e -> e.path("spiffe_id").asText().equals(agentId) && e.path("result").asText().equals("ok"));
    assertThat(prometheus()).anyMatch(l -> l.contains("keylime_attestor_revocation_action")
        && l.contains("action=\"evict\"") && l.contains("result=\"ok\"") && l.contains("reason=\"failed\""));
  }

  @Test
  @Order(2)
  void anEvictedNodeRepairedAndReEnrolledAttestsAgain() throws Exception {
    repairAndEnrolNode(true);
    startAgent();
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    assertThat(agentIds()).contains(agentId);
    awaitWorkloadFetch(true, Duration.ofSeconds(60));
  }

  @Test
  @Order(3)
  void afterARestartTheWatchFindsTheNodeInSpireAndBansItWithinTenSeconds() throws Exception {
    // The node attested before this server process started: only SPIRE's list tells the new watch of it.
    bed.server.stop(Duration.ofSeconds(15));
    startServer("ban");
    bed.server.awaitEntries(ours("revocation watch: watching keylime agents SPIRE attested earlier or elsewhere"),
        1, Duration.ofSeconds(30));
    assertThat(bed.server.entries(ours("node attested"))).isEmpty();
    awaitWorkloadFetch(true, Duration.ofSeconds(60));
    Cutoff c = failNodeAndMeasure();
    c.print("ban");
    assertThat(c.gone).as("FAILED -> agent banned").isLessThanOrEqualTo(TARGET);
    assertThat(c.fetchFails).as("FAILED -> workload fetch fails").isLessThanOrEqualTo(TARGET);
    assertThat(prometheus()).anyMatch(l -> l.contains("keylime_attestor_revocation_action")
        && l.contains("action=\"ban\"") && l.contains("result=\"ok\""));
  }

  @Test
  @Order(4)
  void aBannedNodeRepairedDoesNotAttestUntilUnbanned() throws Exception {
    repairAndEnrolNode(true);
    startAgent();
    bed.agent.awaitEntries(e -> e.toString().contains("agent is banned"), 1, Duration.ofSeconds(90));
    assertThat(bed.agent.process().waitFor(60, TimeUnit.SECONDS)).as("spire-agent stops: banned").isTrue();
    assertThat(bed.agent.entries(msg("Node attestation was successful"))).isEmpty();
    // SPIRE lifts a ban by deleting the node's record: spire-server agent evict.
    bed.run(List.of(SpireBinaries.server().toString(), "agent", "evict", "-socketPath", bed.serverSocket().toString(),
        "-spiffeID", agentId));
    startAgent();
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    awaitWorkloadFetch(true, Duration.ofSeconds(60));
  }

  /** Times from the verifier's FAILED (seen by polling it every 100 ms) to each cut-off. */
  record Cutoff(Duration gone, Duration fetchFails) {
    void print(String action) {
      System.err.printf("revocation (%s): Keylime FAILED -> agent gone from spire-server agent list %d ms, "
          + "-> workload fetch failing %d ms (target <= %d s)%n", action, gone.toMillis(), fetchFails.toMillis(),
          TARGET.toSeconds());
    }
  }

  private Cutoff failNodeAndMeasure() throws Exception {
    String action = bed.server.entries(ours("revocation watch started")).get(0).path("action").asText();
    Predicate<JsonNode> cutOff = action.equals("ban")
        ? a -> a.path("banned").asBoolean()
        : a -> false;
    KeylimeStack.kill(emulator);
    CompletableFuture<Instant> gone = CompletableFuture.supplyAsync(() -> until("the agent cut off", () -> {
      for (JsonNode a : bed.agentList()) {
        if (id(a).equals(agentId)) {
          return cutOff.test(a);
        }
      }
      return true;
    }));
    CompletableFuture<Instant> fetchFails = CompletableFuture.supplyAsync(RevocationIT.this::fetchFailsForGood);
    Instant failed = awaitVerifier(s -> s.operationalState().map(OperationalState::isFailure).orElse(false)
        || s.attestationStatus().orElse(null) == AttestationStatus.FAIL, Duration.ofSeconds(90), 100);
    Instant g = gone.get(90, TimeUnit.SECONDS);
    Instant f = fetchFails.get(90, TimeUnit.SECONDS);
    Cutoff c = new Cutoff(Duration.between(failed, g), Duration.between(failed, f));
    // cut off before Keylime's verdict would mean something other than the watch did it
    assertThat(c.gone).as("agent gone after FAILED").isPositive();
    assertThat(c.fetchFails).as("fetch failing after FAILED").isPositive();
    return c;
  }

  /** The first failing workload fetch after which three more in a row fail too (not a hiccup). */
  private Instant fetchFailsForGood() {
    AtomicReference<Instant> firstFailure = new AtomicReference<>();
    AtomicInteger failures = new AtomicInteger();
    await("four workload fetches in a row failing").atMost(Duration.ofSeconds(90)).pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(100)).pollInSameThread().until(() -> {
          Instant t = Instant.now();
          if (fetchX509()) {
            firstFailure.set(null);
            failures.set(0);
          } else {
            firstFailure.compareAndSet(null, t);
            failures.incrementAndGet();
          }
          return failures.get() >= 4;
        });
    return firstFailure.get();
  }

  interface Check {
    boolean test() throws Exception;
  }

  /** The first instant {@code check} holds, polled every 100 ms for up to 90 s. */
  private static Instant until(String what, Check check) {
    await(what).atMost(Duration.ofSeconds(90)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(100))
        .pollInSameThread().until(check::test);
    return Instant.now();
  }

  private void startServer(String action) throws Exception {
    bed.startServer("  agent_ttl = \"10m\"", serverBlock(action),
        "telemetry {\n  Prometheus {\n    host = \"127.0.0.1\"\n    port = " + metricsPort + "\n  }\n}\n");
    bed.awaitServerHealthy(Duration.ofSeconds(60));
  }

  /** (Re)starts the emulator; when {@code reEnrol}, removes the failed node from the verifier first. */
  private void repairAndEnrolNode(boolean reEnrol) throws Exception {
    if (reEnrol) {
      stack.run(Duration.ofMinutes(2), "tenant.sh", stack.dir.toString(), "-c", "delete", "-u", uuid);
    }
    emulator = stack.startAgent(uuid, emulatorPort, emulatorDir);
    KeylimeEndToEndIT.awaitFile(emulatorDir.resolve("agent_data.json"), Duration.ofSeconds(60));
    KeylimeFixtures.enrol(stack, uuid, emulatorPort);
    awaitVerifier(s -> s.attestationStatus().orElse(null) == AttestationStatus.PASS, Duration.ofSeconds(60), 500);
  }

  private Instant awaitVerifier(Predicate<VerifierAgentStatus> condition, Duration timeout, long pollMs)
      throws Exception {
    TlsSettings tls = TlsSettings.builder().caBundle(stack.path("KEYLIME_CA_CERT"))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null).build();
    VerifierClient v = new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), tls));
    // a KeylimeException: not enrolled yet, or being deleted
    await("the verifier's status of " + uuid + " matching").atMost(timeout).pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(pollMs)).pollInSameThread().ignoreExceptionsInstanceOf(KeylimeException.class)
        .until(() -> v.getAgent(uuid), condition);
    return Instant.now();
  }

  private boolean fetchX509() throws Exception {
    Process p = new ProcessBuilder(SpireBinaries.agent().toString(), "api", "fetch", "x509", "-timeout", "2s",
        "-socketPath", bed.agentSocket().toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 && out.contains("spiffe://example.org/workload");
  }

  private void awaitWorkloadFetch(boolean works, Duration timeout) throws Exception {
    try {
      await("the workload fetch " + (works ? "working" : "failing")).atMost(timeout).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(500)).pollInSameThread().until(() -> fetchX509() == works);
    } catch (ConditionTimeoutException e) {
      throw new AssertionError("workload fetch never " + (works ? "worked" : "failed") + "\n" + bed.agent.tail(), e);
    }
  }

  private List<String> agentIds() throws Exception {
    List<String> ids = new java.util.ArrayList<>();
    bed.agentList().forEach(a -> ids.add(id(a)));
    return ids;
  }

  private static String id(JsonNode a) {
    return "spiffe://" + a.path("id").path("trust_domain").asText() + a.path("id").path("path").asText();
  }

  private List<String> prometheus() throws Exception {
    java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    List<String> ours = r.body().lines()
        .filter(l -> !l.startsWith("#") && l.contains("keylime_attestor_revocation")).toList();
    System.err.println("revocation metrics:\n" + String.join("\n", ours));
    return ours;
  }

  /** A fresh spire-agent (own data directory, so a fresh attestation) for the node. */
  private void startAgent() throws Exception {
    spireAgents.add(bed.startAgent(agentBlock(), "agent-" + (++agents)));
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  String serverBlock(String action) throws Exception {
    return KeylimeFixtures.serverNodeAttestor(KeylimeFixtures.stackConnection(stack) + """
              pcr_policy {
                pcrs = [16]
              }
              revocation {
                action = "%s"
                spire_server_socket = "%s"
              }
        """.formatted(action, bed.serverSocket()));
  }

  String agentBlock() throws Exception {
    return KeylimeFixtures.agentNodeAttestor("""
              tcti = "swtpm:host=127.0.0.1,port=%s"
              agent_data_path = "%s"
              keylime_agent_uuid = "%s"
              app_key_path = "%s"
        """.formatted(stack.get("SWTPM_PORT"), emulatorDir.resolve("agent_data.json"), uuid,
        bed.dir.resolve("app-key.json")));
  }
}
