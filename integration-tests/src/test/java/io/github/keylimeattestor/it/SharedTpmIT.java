package io.github.keylimeattestor.it;

import static io.github.keylimeattestor.it.SpireProcess.msg;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.keylimeattestor.keylime.emulator.KeylimeStack;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Our plugins on a TPM they share with a Keylime agent that behaves as rust-keylime 0.2.9 does:
 * the emulator keeps its AK loaded for its whole life ({@code --resident-ak}) and leaves it loaded
 * when it exits. Real processes only: one Keylime 7.14.3 verifier + registrar, and four nodes, each
 * with its own swtpm, emulator and SPIRE v1.15.3 server + agent with our plugins:
 *
 * <ul>
 *   <li>{@code d-tpm}, {@code d-kla}: everyone on the raw swtpm (3 transient slots, one held by the
 *       emulator's AK); {@code quote_source} {@code tpm} and {@code keylime_agent};
 *   <li>{@code a-tpm}, {@code a-kla}: the same through tpm2-abrmd on a private D-Bus session bus,
 *       both the emulator and our plugin going through abrmd.
 * </ul>
 *
 * The four nodes re-attest concurrently (SPIRE re-attests at most every 5 s, so 35 re-attestations
 * take 3 minutes whatever the TTL); then faults on {@code d-tpm} and {@code a-tpm}, concurrently:
 * an emulator restart that leaks another AK, a swtpm restart, a tpm2-abrmd restart. Our plugin must
 * report Unavailable while a fault lasts, recover by itself, and never exit or wedge.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SharedTpmIT {
  static final int REATTESTATIONS = Integer.getInteger("shared.reattestations", 35);
  /** Short: SPIRE re-attests once its SVID is half through, checking every 5 s. */
  static final String REATTEST_TTL = "6s";
  /**
   * Long enough to ride out a fault: SPIRE first re-attests at half the TTL, retries a failed
   * attempt after 7.5 s, then 11.25 s more, and gives up (the agent exits) once its SVID has
   * expired; each failed attempt may itself take the plugin's retry budget.
   */
  static final String FAULT_TTL = System.getProperty("shared.fault_ttl", "120s");
  /** The first re-attestation comes at half the TTL; wait for it a little longer than that. */
  static final Duration FIRST_REATTEST = Duration.ofSeconds(Long.parseLong(FAULT_TTL.replace("s", "")) / 2 + 30);
  static final Predicate<JsonNode> REATTESTED = msg("Successfully reattested node");

  final long started = System.nanoTime();
  final ExecutorService pool = Executors.newCachedThreadPool();
  final Map<SharedTpmNode, SpireTestbed> beds = new java.util.concurrent.ConcurrentHashMap<>();
  KeylimeStack stack;
  SharedTpmNode dTpm;
  SharedTpmNode dKla;
  SharedTpmNode aTpm;
  SharedTpmNode aKla;

  @BeforeAll
  void startStackNodesAndSpire() throws Exception {
    Path workdir = Path.of(System.getProperty("keylime.workdir", "target/keylime-e2e")).resolveSibling("keylime-shared-tpm");
    // The verifier keeps retrying an unreachable agent for 5 minutes (Keylime's retry state is
    // accepted by the server plugin), so that a TPM or emulator restart does not fail the node.
    stack = KeylimeStack.start(workdir.toString(), Map.of("STACK_MAX_RETRIES", "300"));
    dTpm = new SharedTpmNode("d-tpm", stack, "swtpm", false);
    dKla = new SharedTpmNode("d-kla", stack, "swtpm-d-kla", false);
    aTpm = new SharedTpmNode("a-tpm", stack, "swtpm-a-tpm", true);
    aKla = new SharedTpmNode("a-kla", stack, "swtpm-a-kla", true);
    List<SharedTpmNode> nodes = List.of(dTpm, dKla, aTpm, aKla);
    eachConcurrently(nodes, n -> {
      n.startTpm();
      n.startEmulator();
    });
    for (SharedTpmNode n : nodes) { // the tenant, one at a time
      if (n.setupFailure == null) {
        try {
          n.enroll();
        } catch (Throwable t) {
          n.setupFailure = t;
        }
      }
    }
    eachConcurrently(nodes, n -> {
      n.awaitVerifierPass(Duration.ofSeconds(90));
      startSpire(n, n == dTpm || n == aTpm ? "tpm" : "keylime_agent", REATTEST_TTL);
    });
  }

  @AfterAll
  void stopEverything() throws Exception {
    try {
      for (SpireTestbed b : beds.values()) {
        b.close();
      }
    } finally {
      pool.shutdownNow();
      if (stack != null) {
        stack.close();
      }
      System.err.printf("SharedTpmIT took %.0f s%n", (System.nanoTime() - started) / 1e9);
    }
  }

  interface NodeStep {
    void run(SharedTpmNode n) throws Exception;
  }

  /** Runs {@code step} for every node still set up, concurrently; a failure is kept on the node. */
  void eachConcurrently(List<SharedTpmNode> nodes, NodeStep step) throws InterruptedException {
    List<Future<?>> fs = new ArrayList<>();
    for (SharedTpmNode n : nodes) {
      fs.add(pool.submit(() -> {
        if (n.setupFailure == null) {
          try {
            step.run(n);
          } catch (Throwable t) {
            n.setupFailure = t;
          }
        }
      }));
    }
    for (Future<?> f : fs) {
      try {
        f.get();
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  // ------------------------------------------------------------------ SPIRE

  SpireTestbed startSpire(SharedTpmNode n, String quoteSource, String ttl) throws Exception {
    SpireTestbed bed = new SpireTestbed();
    beds.put(n, bed); // so that @AfterAll stops it whatever happens next
    bed.agentEnv.putAll(n.env);
    bed.startServer("  agent_ttl = \"" + ttl + "\"", serverBlock());
    bed.awaitServerHealthy(Duration.ofSeconds(60));
    bed.startAgent(agentBlock(n, quoteSource, bed));
    return bed;
  }

  String serverBlock() throws Exception {
    Path exe = SpireBinaries.projectFile("plugin-server/target/keylime-attestor-server");
    String sha = Files.readString(Path.of(exe + ".sha256")).split("\\s+")[0];
    return """
          NodeAttestor "keylime" {
            plugin_cmd = "%s"
            plugin_checksum = "%s"
            plugin_data {
              registrar_urls = ["%s"]
              verifier_urls = ["%s"]
              tls {
                ca_bundle = "%s"
                client_cert = "%s"
                client_key = "%s"
              }
              ek_ca_bundle = "%s"
              require_ek_cert = true
              attestation_policy {
                max_attestation_age = "60s"
              }
              pcr_policy {
                pcrs = [16]
              }
              challenge_timeout = "30s"
            }
          }
        """.formatted(exe, sha, stack.get("REGISTRAR_URL"), stack.get("VERIFIER_URL"), stack.get("KEYLIME_CA_CERT"),
        stack.get("SPIRE_CLIENT_CERT"), stack.get("SPIRE_CLIENT_KEY"), stack.get("EK_CA_BUNDLE"));
  }

  String agentBlock(SharedTpmNode n, String quoteSource, SpireTestbed bed) throws Exception {
    Path exe = SpireBinaries.projectFile("plugin-agent/target/keylime-attestor-agent");
    String sha = Files.readString(Path.of(exe + ".sha256")).split("\\s+")[0];
    String source = quoteSource.equals("tpm") ? "" : """
              quote_source = "keylime_agent"
              keylime_agent_url = "https://127.0.0.1:%d"
              keylime_agent_tls {
                ca_bundle = "%s"
                client_cert = "%s"
                client_key = "%s"
              }
        """.formatted(n.emulatorPort, n.keylimeDir.resolve("server-cert.crt"), stack.get("SPIRE_CLIENT_CERT"),
        stack.get("SPIRE_CLIENT_KEY"));
    return """
          NodeAttestor "keylime" {
            plugin_cmd = "%s"
            plugin_checksum = "%s"
            plugin_data {
              %s
              agent_data_path = "%s"
              keylime_agent_uuid = "%s"
              app_key_path = "%s"
        %s
            }
          }
        """.formatted(exe, sha, n.pluginTpmSettings(), n.keylimeDir.resolve("agent_data.json"), n.uuid,
        bed.dir.resolve("app-key.blob"), source);
  }

  static Predicate<JsonNode> ours(String message) {
    return e -> message.equals(e.path("msg").asText()) && "keylime".equals(e.path("plugin_name").asText());
  }

  /** A failed (re-)attestation as spire-agent logs it, with our plugin's Unavailable inside. */
  static final Predicate<JsonNode> UNAVAILABLE = e -> e.path("msg").asText().startsWith("Could not")
      && e.toString().contains("Unavailable");

  static final Predicate<JsonNode> FAILED = e -> e.path("msg").asText().startsWith("Could not");

  SpireTestbed bed(SharedTpmNode n) {
    if (n.setupFailure != null) {
      throw new AssertionError("node " + n + " could not be set up: " + n.setupFailure, n.setupFailure);
    }
    return beds.get(n);
  }

  /** The pid of our agent plugin, which must not change: one "plugin serving" entry, still running. */
  static long pluginPid(SpireTestbed bed) {
    List<JsonNode> serving = bed.agent.entries(ours("plugin serving"));
    assertThat(serving).as("our agent plugin started once and only once").hasSize(1);
    long pid = serving.get(0).path("pid").asLong();
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).as("agent plugin pid %d alive", pid).contains(true);
    return pid;
  }

  void reattestsConsecutively(SharedTpmNode n) throws Exception {
    SpireTestbed bed = bed(n);
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    bed.agent.awaitEntries(REATTESTED, REATTESTATIONS, Duration.ofMinutes(6));
    assertThat(bed.agent.entries(FAILED)).as("no failed attempt among the re-attestations of %s", n).isEmpty();
    assertThat(bed.server.entries(ours("attestation refused"))).isEmpty();
    assertThat(bed.server.entries(ours("node attested"))).hasSizeGreaterThanOrEqualTo(REATTESTATIONS + 1);
    pluginPid(bed);
    assertThat(n.residentAkHandles()).as("the emulator holds its AK resident").hasSize(1);
    if (!n.viaAbrmd) {
      assertThat(n.transientHandlesByTpm2Tools()).as("tpm2-tools: the emulator's AK is still loaded")
          .containsAll(n.residentAkHandles());
    }
    System.err.printf("%s: %d consecutive re-attestations at %.0f s%n", n, bed.agent.entries(REATTESTED).size(),
        (System.nanoTime() - started) / 1e9);
  }

  @Test
  @Order(1)
  void residentAkOnTheRawSwtpmWithQuoteSourceTpm() throws Exception {
    reattestsConsecutively(dTpm);
  }

  @Test
  @Order(2)
  void residentAkOnTheRawSwtpmWithQuoteSourceKeylimeAgent() throws Exception {
    reattestsConsecutively(dKla);
  }

  @Test
  @Order(3)
  void throughTpm2AbrmdWithQuoteSourceTpm() throws Exception {
    reattestsConsecutively(aTpm);
  }

  @Test
  @Order(4)
  void throughTpm2AbrmdWithQuoteSourceKeylimeAgent() throws Exception {
    reattestsConsecutively(aKla);
  }

  @Test
  @Order(5)
  void faultsGiveUnavailableAndThePluginRecoversByItself() throws Exception {
    for (SpireTestbed b : beds.values()) {
      b.close();
    }
    beds.clear();
    Future<?> d = pool.submit((Callable<Void>) () -> {
      leakedAkThenSwtpmRestart(dTpm);
      return null;
    });
    Future<?> a = pool.submit((Callable<Void>) () -> {
      abrmdRestart(aTpm);
      return null;
    });
    List<Throwable> errors = new ArrayList<>();
    for (Future<?> f : List.of(d, a)) {
      try {
        f.get();
      } catch (java.util.concurrent.ExecutionException e) {
        errors.add(e.getCause());
      }
    }
    if (!errors.isEmpty()) {
      AssertionError e = new AssertionError(errors.size() + " fault scenario(s) failed: " + errors);
      errors.forEach(e::addSuppressed);
      throw e;
    }
  }

  /** Waits until {@code filter} matches more entries than {@code before}; returns the newest match. */
  static JsonNode awaitNew(SpireTestbed bed, Predicate<JsonNode> filter, int before, Duration timeout)
      throws InterruptedException {
    List<JsonNode> hits = bed.agent.awaitEntries(filter, before + 1, timeout);
    return hits.get(hits.size() - 1);
  }

  void leakedAkThenSwtpmRestart(SharedTpmNode n) throws Exception {
    if (n.setupFailure != null) {
      throw new AssertionError("node " + n + " could not be set up", n.setupFailure);
    }
    SpireTestbed bed = startSpire(n, "tpm", FAULT_TTL);
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    long pid = pluginPid(bed);

    // 1. the Keylime agent restarts and leaks its AK: two foreign objects, one slot left for us
    n.startEmulator();
    List<Integer> resident = n.residentAkHandles();
    assertThat(resident).hasSize(2);
    assertThat(n.transientHandlesByTpm2Tools()).as("tpm2-tools: both AKs are loaded").containsAll(resident);
    int unavailable = bed.agent.entries(UNAVAILABLE).size();
    JsonNode leak = awaitNew(bed, UNAVAILABLE, unavailable, FIRST_REATTEST);
    assertThat(leak.toString()).as("what spire-agent logged").contains("OBJECT_MEMORY");
    System.err.println(n + " with a leaked AK: " + leak.path("error").asText());

    // 2. swtpm restarts (the leaked objects go); while it is down: Unavailable again
    n.stopSwtpm();
    JsonNode down = awaitNew(bed, UNAVAILABLE, unavailable + 1, Duration.ofSeconds(60));
    System.err.println(n + " with swtpm down: " + down.path("error").asText());
    int reattested = bed.agent.entries(REATTESTED).size();
    n.startTpm();
    // like rust-keylime, the emulator keeps failing quotes with its stale AK handle until restarted
    n.startEmulator();
    awaitNew(bed, REATTESTED, reattested, Duration.ofSeconds(60));
    assertThat(n.transientHandlesByTpm2Tools()).as("tpm2-tools after recovery")
        .contains(n.residentAkHandles().get(2));

    assertThat(pluginPid(bed)).as("the same plugin process throughout").isEqualTo(pid);
    assertThat(bed.agent.process().isAlive()).as("spire-agent keeps going").isTrue();
    assertThat(bed.server.entries(ours("attestation refused")).stream()
        .filter(e -> !e.path("code").asText().equals("UNAVAILABLE")).toList()).isEmpty();
  }

  void abrmdRestart(SharedTpmNode n) throws Exception {
    if (n.setupFailure != null) {
      throw new AssertionError("node " + n + " could not be set up", n.setupFailure);
    }
    SpireTestbed bed = startSpire(n, "tpm", FAULT_TTL);
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    java.time.Instant attested = java.time.Instant.now();
    long pid = pluginPid(bed);

    // abrmd goes down shortly before spire-agent's first re-attestation (at half the TTL), so that
    // the Keylime verifier, which cannot reach the emulator meanwhile, is not kept waiting long
    Thread.sleep(Math.max(0, Duration.between(java.time.Instant.now(),
        attested.plus(FIRST_REATTEST.minusSeconds(30 + 8))).toMillis()));
    n.stopAbrmd();
    int unavailable = bed.agent.entries(UNAVAILABLE).size();
    JsonNode down = awaitNew(bed, UNAVAILABLE, unavailable, FIRST_REATTEST);
    System.err.println(n + " with tpm2-abrmd down: " + down.path("error").asText());
    int reattested = bed.agent.entries(REATTESTED).size();
    n.startAbrmd();
    // rust-keylime fails every quote after an abrmd restart until it is restarted itself
    n.startEmulator();
    awaitNew(bed, REATTESTED, reattested, Duration.ofSeconds(60));

    assertThat(pluginPid(bed)).as("the same plugin process throughout").isEqualTo(pid);
    assertThat(bed.agent.process().isAlive()).as("spire-agent keeps going").isTrue();
    assertThat(bed.server.entries(ours("attestation refused")).stream()
        .filter(e -> !e.path("code").asText().equals("UNAVAILABLE")).toList()).isEmpty();
  }
}
