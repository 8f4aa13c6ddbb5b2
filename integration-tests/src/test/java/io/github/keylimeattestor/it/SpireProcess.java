package io.github.keylimeattestor.it;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.awaitility.core.ConditionTimeoutException;

/** One running spire-server or spire-agent, with its JSON log captured to a file. */
final class SpireProcess implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();

  /**
   * The SPIRE processes started and not stopped yet: when the JVM ends before their test or harness
   * stops them (a signal, failsafe giving up on its fork), a shutdown hook stops them and their plugins.
   */
  private static final java.util.Set<SpireProcess> RUNNING = java.util.concurrent.ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(SpireProcess::stopAllRunning, "spire-process-stop"));
  }

  private final String name;
  private final Process process;
  private final Path log;

  private SpireProcess(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  static SpireProcess start(String name, Path workDir, List<String> command) throws IOException {
    return start(name, workDir, command, java.util.Map.of());
  }

  /** As above with extra environment (SPIRE passes its environment on to the plugins it starts). */
  static SpireProcess start(String name, Path workDir, List<String> command, java.util.Map<String, String> env)
      throws IOException {
    return start(name, workDir, command, env, false);
  }

  /** As above; {@code append}: a restarted process adds to the log of its earlier run. */
  static SpireProcess start(String name, Path workDir, List<String> command, java.util.Map<String, String> env,
      boolean append) throws IOException {
    Path log = workDir.resolve(name + ".log");
    ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true)
        .redirectOutput(append ? ProcessBuilder.Redirect.appendTo(log.toFile()) : ProcessBuilder.Redirect.to(log.toFile()));
    // go-plugin's sockets and our plugins' socket directories go to $TMPDIR: into the test's own
    // directory, removed with it, rather than /tmp, where a plugin killed by SIGKILL leaves its own
    pb.environment().put("TMPDIR", workDir.toString());
    pb.environment().putAll(env);
    SpireProcess p = new SpireProcess(name, pb.start(), log);
    RUNNING.add(p);
    return p;
  }

  /** SIGTERM to all at once, then as {@link #stop}: SIGKILL after 10 s, then their leftover plugins. */
  private static void stopAllRunning() {
    List<SpireProcess> all = List.copyOf(RUNNING);
    List<ProcessHandle> started = new ArrayList<>();
    for (SpireProcess p : all) {
      started.addAll(p.process.descendants().toList());
      p.process.destroy();
    }
    try {
      for (SpireProcess p : all) {
        p.stop(Duration.ofSeconds(10));
      }
      stopAll(started, Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  Process process() {
    return process;
  }

  Path logFile() {
    return log;
  }

  /** Every JSON line of the log so far (non-JSON lines are skipped). */
  List<JsonNode> logEntries() {
    List<JsonNode> out = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
        if (line.startsWith("{")) {
          try {
            out.add(JSON.readTree(line));
          } catch (IOException e) {
            // a partial last line; read it next time
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  List<JsonNode> entries(Predicate<JsonNode> filter) {
    return logEntries().stream().filter(filter).toList();
  }

  static Predicate<JsonNode> msg(String message) {
    return e -> message.equals(e.path("msg").asText());
  }

  /** Waits until {@code filter} matches {@code count} log entries; fails with the log tail if not. */
  List<JsonNode> awaitEntries(Predicate<JsonNode> filter, int count, Duration timeout) throws InterruptedException {
    try {
      return await(name + " logging " + count + " matching entries").atMost(timeout).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(200)).pollInSameThread().until(() -> {
            List<JsonNode> hits = entries(filter);
            if (!process.isAlive() && hits.size() < count) {
              throw new AssertionError(name + " exited with " + process.exitValue() + " before the log showed it\n"
                  + tail());
            }
            return hits;
          }, hits -> hits.size() >= count);
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(name + ": expected " + count + " matching log entries within " + timeout
          + ", saw " + entries(filter).size() + "\n" + tail(), e);
    }
  }

  String tail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /**
   * SIGTERM, then SIGKILL after {@code grace}; then the same for whatever it had started (its plugins)
   * that is still alive, since a SPIRE process killed, or crashed, leaves its plugins running. Returns
   * the exit code.
   */
  int stop(Duration grace) throws InterruptedException {
    // before it ends: afterwards its children are init's, no longer its descendants
    List<ProcessHandle> started = process.descendants().toList();
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        process.waitFor();
      }
    }
    stopAll(started, grace);
    RUNNING.remove(this);
    return process.exitValue();
  }

  /**
   * SIGTERM to SPIRE alone (SIGKILL after {@code grace}), its plugins left to end as SPIRE ends them:
   * to check that they do. Returns the exit code; {@link #stop} still cleans up after it.
   */
  int stopSpireAlone(Duration grace) throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        process.waitFor();
      }
    }
    return process.exitValue();
  }

  /** SIGTERM to each of {@code processes} still alive, SIGKILL to those alive {@code grace} later. */
  static void stopAll(List<ProcessHandle> processes, Duration grace) throws InterruptedException {
    List<ProcessHandle> alive = processes.stream().filter(ProcessHandle::isAlive).toList();
    alive.forEach(ProcessHandle::destroy);
    long end = System.nanoTime() + grace.toNanos();
    for (ProcessHandle h : alive) {
      while (h.isAlive() && System.nanoTime() < end) {
        Thread.sleep(50);
      }
      if (h.isAlive()) {
        h.destroyForcibly();
      }
    }
  }

  @Override
  public void close() {
    try {
      stop(Duration.ofSeconds(10));
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
