package io.github.keylimeattestor.it;

import static io.github.keylimeattestor.it.SpireProcess.msg;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Soak of both plugins on KeylimeEndToEndIT's stack (swtpm, real Keylime, real SPIRE, our two executables):
 * waits for {@code N} re-attestations and prints, every {@code soak.every} of them, each plugin's RSS,
 * threads, fds and CPU per re-attestation since the previous row. Not a test: it prints figures
 * (integration-tests/bench/soak.sh). The Go plugin's figures are the (it is in no Go module proxy).
 */
final class ReattestationSoak {
  private static final long TICKS_PER_SECOND = 100; // USER_HZ on Linux

  record Sample(long rssKb, int threads, int fds, long cpuTicks) {}

  private ReattestationSoak() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 500;
    int every = Integer.getInteger("soak.every", 50);
    KeylimeEndToEndIT e2e = new KeylimeEndToEndIT();
    long t0 = System.nanoTime();
    // SIGTERM or SIGINT (soak.sh forwards both as SIGTERM): the same teardown as the normal end
    Thread onSignal = new Thread(() -> {
      signalled = !stopped;
      if (signalled) {
        System.err.printf("%nsoak ended by a signal after %.0f s: stopping what it started%n", (System.nanoTime() - t0) / 1e9);
      }
      stopOnce(e2e);
    }, "soak-stop");
    Runtime.getRuntime().addShutdownHook(onSignal);
    try {
      e2e.startEverything();
      SpireTestbed bed = e2e.bed;
      bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(120));
      System.out.printf("first attestation seen by spire-agent (its attestor plugin loaded to \"Node attestation was successful\"): %s%n",
          firstAttestation(bed));
      long agentPid = pid(bed.agent, "spire-agent");
      long serverPid = pid(bed.server, "spire-server");
      System.out.printf("%nre-attestations (agent_ttl %s); agent plugin pid %d, server plugin pid %d%n",
          KeylimeEndToEndIT.AGENT_TTL, agentPid, serverPid);
      System.out.printf("%6s | %9s %7s %4s %11s | %9s %7s %4s %11s | %s%n", "reatt", "agent RSS", "threads", "fds",
          "CPU/reatt", "srv RSS", "threads", "fds", "CPU/reatt", "elapsed");
      String jfrDir = System.getProperty("soak.jfr", "");
      if (!jfrDir.isEmpty()) {
        // jcmd, not -XX:StartFlightRecording: that prints "Started recording" on the plugin's stdout, where
        // SPIRE wants the handshake line
        String settings = "settings=" + System.getProperty("soak.jfr.settings", "profile");
        jcmd(agentPid, "JFR.start", "name=soak", settings, "filename=" + jfrDir + "/agent-" + agentPid + ".jfr");
        jcmd(serverPid, "JFR.start", "name=soak", settings, "filename=" + jfrDir + "/server-" + serverPid + ".jfr");
      }
      System.out.printf("%nmemory after the first attestation:%n");
      MemoryBreakdown.print("agent", agentPid);
      MemoryBreakdown.print("server", serverPid);
      System.out.println();
      Sample a0 = sample(agentPid);
      Sample s0 = sample(serverPid);
      Map<String, Long> agentThreads0 = threadTicks(agentPid);
      Map<String, Long> serverThreads0 = threadTicks(serverPid);
      int done0 = 0;
      row(0, a0, null, s0, null, 0, t0);
      for (int target = Math.min(every, n); ; target = Math.min(target + every, n)) {
        int done = awaitReattestations(bed, target);
        Sample a = sample(agentPid);
        Sample s = sample(serverPid);
        row(done, a, a0, s, s0, done - done0, t0);
        a0 = a;
        s0 = s;
        done0 = done;
        if (target >= n) {
          break;
        }
      }
      System.out.printf("%nmemory after %d re-attestations:%n", done0);
      MemoryBreakdown.print("agent", agentPid);
      MemoryBreakdown.print("server", serverPid);
      System.out.printf("%nCPU per re-attestation by thread (name without its number; threads alive at both ends), over all %d:%n", done0);
      System.out.printf("  agent:  %s%n", byThread(agentThreads0, threadTicks(agentPid), done0));
      System.out.printf("  server: %s%n", byThread(serverThreads0, threadTicks(serverPid), done0));
      System.out.println();
      MemoryBreakdown.printAfterFullGc("agent", agentPid);
      MemoryBreakdown.printAfterFullGc("server", serverPid);
      if (!jfrDir.isEmpty()) {
        jcmd(agentPid, "JFR.stop", "name=soak");
        jcmd(serverPid, "JFR.stop", "name=soak");
        System.out.printf("JFR recordings in %s (jfr print --events jdk.ExecutionSample ...)%n", jfrDir);
      }
      System.out.printf("%nGo plugin, from issue 12 (not measured here: github.com/keylime/spire-keylime-plugin is in no Go"
          + " module proxy): RSS after 35 re-attestations agent 16 MB / server 20 MB, CPU per re-attestation about"
          + " 1.7 / 3.1 ms, first attestation 107 ms, re-attestation median 72 ms%n");
      System.out.printf("JVM floor, measured now: %s%n", JvmFloor.describe(
          Path.of(System.getProperty("soak.launcher")), Path.of(System.getProperty("project.root"))));
      LatencyReport.print(bed);
    } catch (Throwable t) {
      if (!signalled) {
        throw t;
      } // else a failure of the teardown under its feet (e.g. its log deleted): not one to report
    } finally {
      stopOnce(e2e);
      if (!signalled) { // else the JVM is halting meanwhile
        System.out.printf("soak took %.0f s%n", (System.nanoTime() - t0) / 1e9);
      }
    }
  }

  private static volatile boolean stopped;
  private static volatile boolean signalled;

  /**
   * Stops everything the soak started, once, whether it ends, fails or is ended by a signal (then from
   * the shutdown hook while the main thread may still run: the second caller waits for the first):
   * SPIRE and its plugins, then the Keylime stack (swtpm, verifier, registrar, the emulated agent), then
   * any process this JVM started that is still alive, with its own children (e.g. a stack script cut
   * short by the signal).
   */
  static synchronized void stopOnce(KeylimeEndToEndIT e2e) {
    if (stopped) {
      return;
    }
    stopped = true;
    try {
      e2e.stopEverything();
    } catch (Exception e) {
      System.err.println("soak: stopping the stack failed, killing what is left: " + e);
    } finally {
      try {
        SpireProcess.stopAll(ProcessHandle.current().descendants().toList(), Duration.ofSeconds(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  static void jcmd(long pid, String... command) throws IOException, InterruptedException {
    List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
        Long.toString(pid)));
    cmd.addAll(List.of(command));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", cmd) + " failed: " + out);
    }
  }

  /** Counts re-attestations every 2 s until {@code target} (a poll that reads the log should not load the machine). */
  static int awaitReattestations(SpireTestbed bed, int target) throws InterruptedException {
    Instant end = Instant.now().plus(Duration.ofSeconds(30L * target + 120));
    while (true) {
      int done = bed.agent.entries(msg("Successfully reattested node")).size();
      if (done >= target) {
        return done;
      }
      if (Instant.now().isAfter(end)) {
        throw new AssertionError("only " + done + " re-attestations, wanted " + target + "\n" + bed.agent.tail());
      }
      Thread.sleep(2000);
    }
  }

  static void row(int done, Sample a, Sample a0, Sample s, Sample s0, int delta, long t0) {
    System.out.printf("%6d | %6.1f MB %7d %4d %11s | %6.1f MB %7d %4d %11s | %4.0f s%n", done, a.rssKb / 1024.0, a.threads,
        a.fds, cpu(a, a0, delta), s.rssKb / 1024.0, s.threads, s.fds, cpu(s, s0, delta), (System.nanoTime() - t0) / 1e9);
  }

  static String cpu(Sample now, Sample before, int delta) {
    if (before == null || delta <= 0) {
      return "-";
    }
    return String.format("%.1f ms", (now.cpuTicks - before.cpuTicks) * 1000.0 / TICKS_PER_SECOND / delta);
  }

  /** utime + stime of each live thread, summed by thread name without trailing digits. */
  static Map<String, Long> threadTicks(long pid) throws IOException {
    Map<String, Long> out = new TreeMap<>();
    try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
      for (Path t : (Iterable<Path>) tasks::iterator) {
        try {
          String stat = Files.readString(t.resolve("stat"));
          String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replaceAll("[-#]?[0-9]+$", "");
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          out.merge(name, Long.parseLong(f[11]) + Long.parseLong(f[12]), Long::sum);
        } catch (IOException e) {
          // the thread ended meanwhile
        }
      }
    }
    return out;
  }

  static String byThread(Map<String, Long> before, Map<String, Long> after, int reattestations) {
    StringBuilder b = new StringBuilder();
    after.entrySet().stream()
        .map(e -> Map.entry(e.getKey(), e.getValue() - before.getOrDefault(e.getKey(), 0L)))
        .filter(e -> e.getValue() > 0)
        .sorted((x, y) -> Long.compare(y.getValue(), x.getValue()))
        .forEach(e -> b.append(String.format("%s %.1f ms, ", e.getKey(),
            e.getValue() * 1000.0 / TICKS_PER_SECOND / Math.max(1, reattestations))));
    return b.length() == 0 ? "none" : b.substring(0, b.length() - 2);
  }

  static long pid(SpireProcess spire, String name) {
    List<JsonNode> serving = spire.entries(KeylimeEndToEndIT.ours("plugin serving"));
    if (serving.size() != 1) {
      throw new IllegalStateException(name + ": expected one \"plugin serving\" line, saw " + serving.size());
    }
    return serving.get(0).path("pid").asLong();
  }

  static Sample sample(long pid) throws IOException {
    long rss = 0;
    for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (l.startsWith("VmRSS:")) {
        rss = Long.parseLong(l.replaceAll("\\D", ""));
      }
    }
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14 and 15)
    return new Sample(rss, ProcStats.threads(pid), ProcStats.fds(pid), ticks);
  }

  /** spire-agent's "Plugin loaded" of our NodeAttestor to its "Node attestation was successful", from its log. */
  static String firstAttestation(SpireTestbed bed) {
    List<JsonNode> loaded = bed.agent.entries(e -> "Plugin loaded".equals(e.path("msg").asText())
        && "keylime".equals(e.path("plugin_name").asText()));
    List<JsonNode> ok = bed.agent.entries(msg("Node attestation was successful"));
    if (loaded.isEmpty() || ok.isEmpty()) {
      return "not in the log";
    }
    Duration d = Duration.between(OffsetDateTime.parse(loaded.get(0).path("time").asText()),
        OffsetDateTime.parse(ok.get(0).path("time").asText()));
    return d.toMillis() + " ms";
  }
}
