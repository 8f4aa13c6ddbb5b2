package io.github.keylimeattestor.it;

import static io.github.keylimeattestor.it.SpireProcess.msg;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.keylimeattestor.keylime.emulator.KeylimeStack;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The production shape with real parts: a private PostgreSQL cluster as SPIRE's datastore, two spire-servers
 * sharing it (one trust domain, each its own CA as an intermediate of one shared root through SPIRE's
 * UpstreamAuthority "disk", which is how SPIRE runs in HA), each with our server plugin (NodeAttestor with
 * TPM-bound agent SVIDs and the revocation watch, and the CredentialComposer); one Keylime registrar and
 * verifier; N nodes (property {@code fleet.nodes}, 20 by default), each a spire-agent with our agent plugin and
 * TPM KeyManager beside a Keylime agent emulator on its own swtpm. Every spire-agent dials a TCP balancer that
 * sends each connection to either server at random, with no health check, so consecutive attestations of one node
 * land on different servers; one server is stopped and started mid-run.
 *
 * <p>Asserted: every re-attestation succeeds except while a server is down, and then fails with Unavailable only
 * (spire-agent's own log); nodes alternate between the servers and the state our plugins keep per server (TPM
 * clock history, SVID bindings, revocation watch) neither refuses them nor is needed across servers; a node
 * Keylime fails is evicted by the watch of either server. Figures (success rate, latency, CPU, RSS, Keylime
 * requests per second) are printed and, with {@code fleet.report=FILE}, written as JSON for bench/fleet.sh.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetIT {
  static final int NODES = Integer.getInteger("fleet.nodes", 20);
  /** The steady phase before the outage (figures are taken over it). */
  static final Duration PHASE = Duration.ofSeconds(Long.getLong("fleet.phaseSeconds", 30));
  static final Duration OUTAGE = Duration.ofSeconds(Long.getLong("fleet.outageSeconds", 15));
  static final boolean RESTART = Boolean.parseBoolean(System.getProperty("fleet.restartServer", "true"));
  /** Re-attestation at half of it: 60 s leaves a node 30 s, several tries, to get through an outage. */
  static final String AGENT_TTL = System.getProperty("fleet.agentTtl", "60s");
  static final String TD = "example.org";

  final long started = System.nanoTime();
  PostgresCluster pg;
  KeylimeStack stack;
  Path root;
  final List<Server> servers = new ArrayList<>();
  TcpBalancer balancer;
  final List<Node> nodes = Collections.synchronizedList(new ArrayList<>());
  Instant t0;
  Instant down;
  Instant up;
  Instant t1;
  final ObjectNode report = SpireProcess.JSON.createObjectNode();

  /** One spire-server: its directory, port and process. */
  final class Server {
    final String name;
    final Path dir;
    final int port;
    SpireProcess process;

    Server(String name) throws IOException {
      this.name = name;
      this.dir = Files.createDirectories(root.resolve(name));
      this.port = freePort();
    }

    Path socket() {
      return dir.resolve("api.sock");
    }

    void start() throws Exception {
      Path bindings = dir.resolve("svid-bindings");
      Path exe = KeylimeFixtures.serverExe();
      String conf = """
          server {
            bind_address = "127.0.0.1"
            bind_port = "%d"
            socket_path = "%s"
            trust_domain = "%s"
            data_dir = "./data"
            log_level = "INFO"
            log_format = "json"
            agent_ttl = "%s"
          }
          plugins {
            DataStore "sql" {
              plugin_data {
                database_type = "postgres"
                connection_string = "%s"
              }
            }
            KeyManager "memory" {
              plugin_data {}
            }
            UpstreamAuthority "disk" {
              plugin_data {
                cert_file_path = "%s"
                key_file_path = "%s"
              }
            }
          %s
            CredentialComposer "keylime_tpm_bound_svid" {
              plugin_cmd = "%s"
              plugin_checksum = "%s"
              plugin_data {
                svid_binding_directory = "%s"
              }
            }
          }
          """.formatted(port, socket(), TD, AGENT_TTL, pg.connectionString(), root.resolve("root.crt"),
          root.resolve("root.key"), KeylimeFixtures.serverNodeAttestor(KeylimeFixtures.stackConnection(stack) + """
                    pcr_policy {
                      pcrs = [16]
                    }
                    challenge_timeout = "30s"
                    require_tpm_bound_svid = true
                    svid_binding_directory = "%s"
                    revocation {
                      action = "evict"
                      spire_server_socket = "%s"
                    }
              """.formatted(bindings, socket())), exe, KeylimeFixtures.sha(exe), bindings);
      Files.writeString(dir.resolve("server.conf"), conf);
      Files.createDirectories(dir.resolve("data"));
      // a restart appends to the same log: the test reads one history per server
      process = SpireProcess.start("spire-" + name, dir,
          List.of(SpireBinaries.server().toString(), "run", "-config", "server.conf"), Map.of(), true);
      awaitHealthy();
    }

    void awaitHealthy() throws Exception {
      Instant end = Instant.now().plusSeconds(90);
      while (true) {
        Process p = new ProcessBuilder(SpireBinaries.server().toString(), "healthcheck", "-socketPath",
            socket().toString()).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
          return;
        }
        if (!process.process().isAlive() || Instant.now().isAfter(end)) {
          throw new AssertionError("spire-" + name + " not healthy\n" + process.tail() + "\n" + pg.log());
        }
        Thread.sleep(250);
      }
    }

    /** Our plugin processes: spire-server's children (NodeAttestor and CredentialComposer). */
    List<Long> pluginPids() {
      return process.process().children().map(ProcessHandle::pid).toList();
    }
  }

  /** One node: swtpm, Keylime agent emulator, spire-agent with our agent plugins. */
  final class Node {
    final int index;
    final String uuid = UUID.randomUUID().toString();
    final Path dir;
    int swtpmPort;
    Process emulator;
    SpireProcess agent;

    Node(int index) throws IOException {
      this.index = index;
      this.dir = Files.createDirectories(root.resolve("node-" + index));
    }

    String spiffeId() {
      return "spiffe://" + TD + "/spire/agent/keylime/" + uuid;
    }

    String tcti() {
      return "swtpm:host=127.0.0.1,port=" + swtpmPort;
    }

    void start() throws Exception {
      swtpmPort = Integer.parseInt(stack.run(Duration.ofSeconds(90), "swtpm.sh", stack.dir.toString(),
          "node-" + index, "start").strip().lines().reduce((a, b) -> b).orElseThrow());
      int port = freePort();
      Path keylimeDir = stack.dir.resolve("agent-" + uuid);
      // small JVMs: N of them share two cores with everything else
      emulator = stack.startAgent(uuid, port, keylimeDir, tcti(), Map.of("JAVA_TOOL_OPTIONS",
          "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss256k -Xmx64m"));
      KeylimeEndToEndIT.awaitFile(keylimeDir.resolve("agent_data.json"), Duration.ofSeconds(120));
      KeylimeFixtures.enrol(stack, uuid, port);
      Path agentExe = KeylimeFixtures.agentExe();
      Path keys = dir.resolve("tpm-keys");
      String conf = """
          agent {
            data_dir = "./data"
            log_level = "DEBUG"
            log_format = "json"
            server_address = "127.0.0.1"
            server_port = "%d"
            socket_path = "%s"
            trust_domain = "%s"
            trust_bundle_path = "%s"
          }
          plugins {
            KeyManager "keylime_tpm" {
              plugin_cmd = "%s"
              plugin_checksum = "%s"
              plugin_data {
                directory = "%s"
                tcti = "%s"
              }
            }
            WorkloadAttestor "unix" {
              plugin_data {}
            }
          %s
          }
          """.formatted(balancer.port(), dir.resolve("agent.sock"), TD, root.resolve("root.crt"), agentExe,
          KeylimeFixtures.sha(agentExe), keys, tcti(), KeylimeFixtures.agentNodeAttestor("""
                    tcti = "%s"
                    agent_data_path = "%s"
                    keylime_agent_uuid = "%s"
                    app_key_path = "%s"
                    svid_key_directory = "%s"
              """.formatted(tcti(), keylimeDir.resolve("agent_data.json"), uuid, dir.resolve("app-key.blob"), keys)));
      Files.createDirectories(dir.resolve("data"));
      Files.writeString(dir.resolve("agent.conf"), conf);
      agent = SpireProcess.start("spire-agent", dir,
          List.of(SpireBinaries.agent().toString(), "run", "-config", "agent.conf"));
    }
  }

  @BeforeAll
  void startEverything() throws Exception {
    System.err.printf("FleetIT: %d nodes, agent_ttl %s%n", NODES, AGENT_TTL);
    root = Files.createTempDirectory(Path.of("/tmp"), "fleet");
    pg = PostgresCluster.start();
    // quote_interval 10 s: N emulators and the verifier share two cores (Keylime's default is 2 s)
    stack = KeylimeStack.start(Path.of(System.getProperty("keylime.workdir", "target/keylime-stack") + "-fleet"),
        Map.of("STACK_QUOTE_INTERVAL", System.getProperty("fleet.quoteInterval", "10")));
    rootCa();
    for (String n : List.of("a", "b")) {
      Server s = new Server(n);
      servers.add(s);
      s.start(); // one after the other: the first one migrates the empty database
    }
    balancer = new TcpBalancer(servers.stream().map(s -> s.port).toList());
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      List<Future<?>> starts = new ArrayList<>();
      for (int i = 0; i < NODES; i++) {
        Node n = new Node(i);
        nodes.add(n);
        starts.add(pool.submit(() -> {
          n.start();
          return null;
        }));
      }
      for (Future<?> f : starts) {
        f.get(10, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    for (Node n : nodes) {
      n.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(120));
    }
    System.err.printf("FleetIT: %d nodes attested after %.1f s%n", NODES, (System.nanoTime() - started) / 1e9);
  }

  @AfterAll
  void stopEverything() throws Exception {
    try {
      for (Node n : nodes) {
        if (n.agent != null) {
          n.agent.process().destroy();
        }
      }
      for (Node n : nodes) {
        if (n.agent != null) {
          n.agent.close();
        }
      }
      for (Server s : servers) {
        if (s.process != null) {
          s.process.close();
        }
      }
      if (balancer != null) {
        balancer.close();
      }
    } finally {
      try {
        stopNodeTpms();
        if (stack != null) {
          stack.close();
        }
      } finally {
        if (pg != null) {
          pg.close();
        }
        if (root != null && System.getenv("KEEP_SPIRE_IT") == null) {
          try (var walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
          }
        }
        System.err.printf("FleetIT took %.1f s%n", (System.nanoTime() - started) / 1e9);
      }
    }
  }

  /**
   * SIGTERM to every node's swtpm at once, so that stop.sh (one group after the other, each with a grace period)
   * finds them gone: with 50 nodes on a loaded machine it would otherwise outlast its timeout.
   */
  private void stopNodeTpms() throws InterruptedException {
    if (stack == null) {
      return;
    }
    List<ProcessHandle> tpms = new ArrayList<>();
    for (Node n : nodes) {
      try {
        long pid = Long.parseLong(Files.readString(stack.dir.resolve("pids/node-" + n.index + ".pid")).strip());
        ProcessHandle.of(pid).ifPresent(tpms::add);
      } catch (IOException | RuntimeException e) {
        // never started
      }
    }
    tpms.forEach(ProcessHandle::destroy);
    for (ProcessHandle h : tpms) {
      try {
        h.onExit().get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        h.destroyForcibly();
      }
    }
  }

  @Test
  @Order(1)
  void everyReattestationSucceedsExceptWhileItsServerIsDownAndThenWithUnavailableOnly() throws Exception {
    t0 = Instant.now();
    Map<Long, long[]> cpu0 = cpuTicks();
    Instant k0 = Instant.now();
    Thread.sleep(PHASE.toMillis());
    Map<Long, long[]> cpu1 = cpuTicks();
    Instant k1 = Instant.now();
    recordSteadyFigures(cpu0, cpu1, k0, k1);
    Server b = servers.get(1);
    if (RESTART) {
      down = Instant.now();
      b.process.stop(Duration.ofSeconds(15));
      Thread.sleep(OUTAGE.toMillis());
      b.start();
      up = Instant.now();
      // until every node has re-attested since (each does within agent_ttl / 2 + a 5 s rotation check)
      Instant end = up.plus(Duration.parse("PT" + AGENT_TTL.toUpperCase())).plusSeconds(30);
      for (Node n : nodes) {
        while (n.agent.entries(e -> msg("Successfully reattested node").test(e) && !time(e).isBefore(up)).isEmpty()
            && Instant.now().isBefore(end)) {
          Thread.sleep(500);
        }
      }
    }
    t1 = Instant.now();

    List<Double> latencies = new ArrayList<>();
    int ok = 0;
    int failed = 0;
    List<String> wrongFailures = new ArrayList<>();
    for (Node n : nodes) {
      List<JsonNode> log = n.agent.entries(e -> within(e, t0, t1));
      Instant start = null;
      for (JsonNode e : log) {
        String m = e.path("msg").asText();
        if (m.equals("Reattesting node")) {
          start = time(e);
        } else if (m.equals("Successfully reattested node")) {
          ok++;
          if (start != null) {
            latencies.add(Duration.between(start, time(e)).toNanos() / 1e6);
          }
          start = null;
        } else if (m.startsWith("Could not reattest") || m.startsWith("Could not rotate")) {
          failed++;
          Instant t = time(e);
          boolean duringOutage = down != null && !t.isBefore(down) && t.isBefore(up.plusSeconds(5));
          if (!duringOutage || !e.path("error").asText().contains("code = Unavailable")) {
            wrongFailures.add("node " + n.index + " at " + t + ": " + e);
          }
          start = null;
        }
      }
    }
    Collections.sort(latencies);
    double seconds = Duration.between(t0, t1).toMillis() / 1e3;
    report.put("nodes", NODES);
    report.put("agent_ttl", AGENT_TTL);
    report.put("reattest_ok", ok);
    report.put("reattest_failed", failed);
    report.put("success_rate", ok + failed == 0 ? 0 : (double) ok / (ok + failed));
    report.put("attestations_per_s", ok / seconds);
    report.put("latency_p50_ms", pct(latencies, 0.50));
    report.put("latency_p99_ms", pct(latencies, 0.99));
    report.put("latency_max_ms", pct(latencies, 1.0));
    report.put("balancer_refused", balancer.refused.toString());
    report.put("failed_other_than_unavailable_in_outage", wrongFailures.size());
    try {
      assertThat(wrongFailures).as("re-attestation failures other than Unavailable while a server was down").isEmpty();
      assertThat(ok).as("re-attestations").isGreaterThanOrEqualTo(NODES);
      for (Node n : nodes) {
        assertThat(n.agent.process().isAlive()).as("spire-agent of node " + n.index + " runs").isTrue();
        if (RESTART) {
          assertThat(n.agent.entries(e -> msg("Successfully reattested node").test(e) && !time(e).isBefore(up)))
              .as("node %d re-attested after the restart", n.index).isNotEmpty();
        }
      }
      if (RESTART) {
        assertThat(servers.get(1).process.entries(e -> KeylimeEndToEndIT.ours("node attested").test(e)
            && !time(e).isBefore(up))).as("the restarted server attests nodes again").isNotEmpty();
        assertThat(balancer.refused.get(1)).as("connections sent to the stopped server").isPositive();
        if (NODES >= 10) {
          // at 20 nodes about 10 re-attestations fall in the outage, each sent to the stopped server with p = 1/2
          assertThat(failed).as("re-attestations that reached the stopped server").isPositive();
        }
      }
      assertServerStateHoldsAcrossServers();
    } finally {
      printReport();
    }
  }

  /**
   * Consecutive attestations of one node on different servers: neither server's TPM clock history nor SVID
   * binding refuses them, and many nodes did switch servers.
   */
  void assertServerStateHoldsAcrossServers() {
    Map<String, TreeMap<Instant, String>> byNode = new TreeMap<>();
    for (Server s : servers) {
      for (JsonNode e : s.process.entries(KeylimeEndToEndIT.ours("node attested"))) {
        byNode.computeIfAbsent(e.path("agent_uuid").asText(), k -> new TreeMap<>()).put(time(e), s.name);
      }
      assertThat(s.process.entries(e -> e.toString().contains("tpm_clock"))).as("clock refusals on " + s.name)
          .isEmpty();
      assertThat(s.process.entries(composer(
          "refused an agent X.509-SVID for a key the TPM attestation did not certify")))
          .as("SVID refusals on " + s.name).isEmpty();
      int attested = s.process.entries(KeylimeEndToEndIT.ours("node attested")).size();
      int bound = s.process.entries(composer("agent X.509-SVID key is TPM-bound")).size();
      report.put("attested_on_" + s.name, attested);
      report.put("tpm_bound_svids_on_" + s.name, bound);
      assertThat(bound).as("TPM-bound agent SVIDs signed by %s (it attested %d times); log %s", s.name, attested,
          s.process.logFile()).isPositive();
    }
    int switched = 0;
    int switches = 0;
    for (TreeMap<Instant, String> seq : byNode.values()) {
      String prev = null;
      int mine = 0;
      for (String s : seq.values()) {
        if (prev != null && !prev.equals(s)) {
          mine++;
        }
        prev = s;
      }
      switches += mine;
      switched += mine > 0 ? 1 : 0;
    }
    report.put("nodes_that_switched_servers", switched);
    report.put("server_switches", switches);
    System.err.printf("FleetIT: %d of %d nodes attested on both servers in turn (%d switches)%n", switched, NODES,
        switches);
    assertThat(switched).as("nodes whose consecutive attestations landed on different servers")
        .isGreaterThanOrEqualTo(NODES / 2);
  }

  @Test
  @Order(2)
  void aNodeKeylimeFailsIsEvictedAndEitherServersWatchDoesIt() throws Exception {
    Node victim = nodes.get(0);
    Instant killed = Instant.now();
    KeylimeStack.kill(victim.emulator);
    Instant end = killed.plusSeconds(120);
    while (listedAgents().contains(victim.spiffeId())) {
      assertThat(Instant.now()).as("node evicted within 120 s of its Keylime agent dying").isBefore(end);
      Thread.sleep(500);
    }
    System.err.printf("FleetIT: Keylime agent killed -> SPIRE agent evicted in %d ms (quote_interval %s s)%n",
        Duration.between(killed, Instant.now()).toMillis(), System.getProperty("fleet.quoteInterval", "10"));
    Predicate<JsonNode> evicted = e -> KeylimeEndToEndIT.ours("revocation watch: agent evicted").test(e)
        && e.path("spiffe_id").asText().equals(victim.spiffeId());
    Instant wait = Instant.now().plusSeconds(30);
    while (servers.stream().filter(s -> !s.process.entries(evicted).isEmpty()).count() == 0) {
      assertThat(Instant.now()).as("a server's watch logs the eviction").isBefore(wait);
      Thread.sleep(200);
    }
    List<String> results = new ArrayList<>();
    servers.forEach(s -> s.process.entries(evicted).forEach(e -> results.add(s.name + ":" + e.path("result").asText())));
    System.err.println("FleetIT: eviction by " + results);
    assertThat(results).anyMatch(r -> r.endsWith(":ok"));
    assertThat(results).allMatch(r -> r.endsWith(":ok") || r.endsWith(":already_gone"));
    for (Node n : nodes.subList(1, nodes.size())) {
      assertThat(listedAgents()).as("the other nodes stay").contains(n.spiffeId());
    }
  }

  private List<String> listedAgents() throws Exception {
    Server a = servers.get(0);
    Process p = new ProcessBuilder(SpireBinaries.server().toString(), "agent", "list", "-socketPath",
        a.socket().toString(), "-output", "json").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0).as("agent list: " + out).isTrue();
    List<String> ids = new ArrayList<>();
    for (JsonNode ag : SpireProcess.JSON.readTree(out).path("agents")) {
      ids.add("spiffe://" + ag.path("id").path("trust_domain").asText() + ag.path("id").path("path").asText());
    }
    return ids;
  }

  // ------------------------------------------------------------------ figures

  /** CPU (utime + stime ticks) and RSS (kB) of each process we measure, by pid. */
  private Map<Long, long[]> cpuTicks() {
    Map<Long, long[]> out = new TreeMap<>();
    List<Long> pids = new ArrayList<>();
    for (Server s : servers) {
      pids.add(s.process.process().pid());
      pids.addAll(s.pluginPids());
    }
    pids.addAll(keylimePids());
    for (long pid : pids) {
      try {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long rss = 0;
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
          if (l.startsWith("VmRSS:")) {
            rss = Long.parseLong(l.replaceAll("\\D", ""));
          }
        }
        out.put(pid, new long[] {Long.parseLong(f[11]) + Long.parseLong(f[12]), rss});
      } catch (IOException | RuntimeException e) {
        // gone meanwhile
      }
    }
    return out;
  }

  private List<Long> keylimePids() {
    List<Long> out = new ArrayList<>();
    for (String name : List.of("verifier", "registrar")) {
      try {
        long pid = Long.parseLong(Files.readString(stack.dir.resolve("pids/" + name + ".pid")).strip());
        out.add(pid);
        ProcessHandle.of(pid).ifPresent(h -> h.descendants().forEach(d -> out.add(d.pid())));
      } catch (IOException | RuntimeException e) {
        // not there
      }
    }
    return out;
  }

  private void recordSteadyFigures(Map<Long, long[]> c0, Map<Long, long[]> c1, Instant k0, Instant k1)
      throws IOException {
    double s = Duration.between(k0, k1).toMillis() / 1e3;
    double hz = 100; // USER_HZ on Linux
    double pluginCpu = 0;
    double serverCpu = 0;
    long pluginRss = 0;
    for (Server srv : servers) {
      long sp = srv.process.process().pid();
      serverCpu += delta(c0, c1, sp) / hz / s;
      for (long p : srv.pluginPids()) {
        pluginCpu += delta(c0, c1, p) / hz / s;
        pluginRss = Math.max(pluginRss, c1.getOrDefault(p, new long[2])[1]);
      }
    }
    double keylimeCpu = 0;
    for (long p : keylimePids()) {
      keylimeCpu += delta(c0, c1, p) / hz / s;
    }
    int attested = 0;
    for (Server srv : servers) {
      attested += srv.process.entries(e -> KeylimeEndToEndIT.ours("node attested").test(e) && within(e, k0, k1)).size();
    }
    long verifierRequests = keylimeRequests("verifier.log", k0, k1, false);
    long watchRequests = keylimeRequests("verifier.log", k0, k1, true);
    long registrarRequests = keylimeRequests("registrar.log", k0, k1, false);
    report.put("steady_seconds", s);
    report.put("steady_attestations", attested);
    report.put("server_plugin_cpu_cores", pluginCpu);
    report.put("spire_server_cpu_cores", serverCpu);
    report.put("keylime_cpu_cores", keylimeCpu);
    report.put("server_plugin_rss_mb_max", pluginRss / 1024.0);
    report.put("verifier_requests_per_s", verifierRequests / s);
    report.put("registrar_requests_per_s", registrarRequests / s);
    report.put("verifier_watch_requests_per_s", watchRequests / s);
    // the revocation watch's bulk polls do not grow with attestations: left out of the per-attestation count
    report.put("keylime_requests_per_attestation",
        attested == 0 ? 0 : (verifierRequests - watchRequests + registrarRequests) / (double) attested);
    report.put("quote_interval_s", Integer.parseInt(System.getProperty("fleet.quoteInterval", "10")));
  }

  private static long delta(Map<Long, long[]> c0, Map<Long, long[]> c1, long pid) {
    long[] a = c0.get(pid);
    long[] b = c1.get(pid);
    return a == null || b == null ? 0 : b[0] - a[0];
  }

  private static final Pattern KEYLIME_REQUEST =
      Pattern.compile("^(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}) - keylime\\.web - INFO - (GET|POST|PUT|DELETE|PATCH) ");
  private static final DateTimeFormatter KEYLIME_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");

  /**
   * Requests Keylime's web layer logged in [from, to) (the verifier's own polling of agents is not among them);
   * {@code bulkOnly}: only the revocation watch's bulk reads.
   */
  private long keylimeRequests(String logName, Instant from, Instant to, boolean bulkOnly) throws IOException {
    long n = 0;
    for (String line : Files.readAllLines(stack.dir.resolve("logs").resolve(logName), StandardCharsets.UTF_8)) {
      Matcher m = KEYLIME_REQUEST.matcher(line);
      // the bulk read is "GET /v2.x/agents/" (Keylime does not log the query string)
      if (m.find() && (!bulkOnly || line.matches(".* GET /v[0-9.]+/agents/$"))) {
        Instant t = LocalDateTime.parse(m.group(1), KEYLIME_TIME).atZone(ZoneId.systemDefault()).toInstant();
        if (!t.isBefore(from) && t.isBefore(to)) {
          n++;
        }
      }
    }
    return n;
  }

  private void printReport() throws IOException {
    System.err.println("FleetIT figures: " + report.toPrettyString());
    String file = System.getProperty("fleet.report", "");
    if (!file.isBlank()) {
      Files.writeString(Path.of(file), report.toPrettyString());
    }
  }

  static double pct(List<Double> sorted, double p) {
    if (sorted.isEmpty()) {
      return 0;
    }
    return sorted.get(Math.min(sorted.size() - 1, Math.max(0, (int) Math.ceil(sorted.size() * p) - 1)));
  }

  /** A log entry of our CredentialComposer "keylime_tpm_bound_svid". */
  static Predicate<JsonNode> composer(String message) {
    return e -> message.equals(e.path("msg").asText())
        && "keylime_tpm_bound_svid".equals(e.path("plugin_name").asText());
  }

  static Instant time(JsonNode e) {
    return OffsetDateTime.parse(e.path("time").asText()).toInstant();
  }

  static boolean within(JsonNode e, Instant from, Instant to) {
    if (!e.has("time")) {
      return false;
    }
    Instant t = time(e);
    return !t.isBefore(from) && t.isBefore(to);
  }

  private void rootCa() throws IOException, InterruptedException {
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", root.resolve("root.key").toString(), "-out", root.resolve("root.crt").toString(),
        "-days", "2", "-subj", "/O=keylime-attestor FleetIT/CN=fleet root CA", "-addext",
        "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("openssl req failed:\n" + out);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
