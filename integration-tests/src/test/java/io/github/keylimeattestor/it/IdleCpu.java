package io.github.keylimeattestor.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * CPU and wake-ups of each plugin while it idles between attestations, connected to its host as under
 * SPIRE (handshake, broker stream, Init, Configure; {@link PluginHost}): per thread, over a window
 * that starts 5 s after Configure. Not a test: it prints figures ({@code integration-tests/bench/idle.sh}).
 * Arguments: seconds, then {@code executable=plugin_data.hcl} pairs.
 */
public final class IdleCpu {
  private IdleCpu() {}

  /** A thread's CPU time (ns, from schedstat) and voluntary context switches, i.e. its wake-ups. */
  record ThreadTimes(long cpuNanos, long wakeups) {}

  private static volatile Process running;

  public static void main(String[] args) throws Exception {
    // SIGTERM or Ctrl-C (idle.sh passes both on as SIGTERM): the plugin goes with this JVM
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      Process p = running;
      if (p != null) {
        p.destroyForcibly();
      }
    }));
    int seconds = Integer.parseInt(args[0]);
    for (int i = 1; i < args.length; i++) {
      String[] exeAndConfig = args[i].split("=", 2);
      Path exe = Path.of(exeAndConfig[0]);
      Path log = Files.createTempFile("idle-cpu", ".log");
      try (PluginHost host = PluginHost.start(exe, log)) {
        running = host.process;
        host.configure("example.org", Files.readString(Path.of(exeAndConfig[1])));
        Thread.sleep(5_000);
        long pid = host.process.pid();
        Map<String, ThreadTimes> before = threads(pid);
        Thread.sleep(seconds * 1000L);
        Map<String, ThreadTimes> after = threads(pid);
        long total = 0;
        StringBuilder rows = new StringBuilder();
        for (var e : after.entrySet()) {
          ThreadTimes b = before.getOrDefault(e.getKey(), new ThreadTimes(0, 0));
          long cpu = e.getValue().cpuNanos() - b.cpuNanos();
          long wakeups = e.getValue().wakeups() - b.wakeups();
          total += cpu;
          if (cpu > 0 || wakeups > 0) {
            rows.append(String.format("  %-24s %7.2f ms CPU, %4d wake-ups%n", e.getKey(), cpu / 1e6, wakeups));
          }
        }
        System.out.printf("%s, idle %d s after Configure: %.3f ms of CPU a second%n%s", exe.getFileName(), seconds,
            total / 1e6 / seconds, rows);
      } finally {
        running = null;
        Files.deleteIfExists(log);
      }
    }
  }

  /** Each live thread of {@code pid}, by name and thread id. */
  static Map<String, ThreadTimes> threads(long pid) throws IOException {
    Map<String, ThreadTimes> m = new TreeMap<>();
    try (var tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
      for (Path t : tasks) {
        try {
          String name = Files.readString(t.resolve("comm")).strip() + " (" + t.getFileName() + ")";
          long cpu = Long.parseLong(Files.readString(t.resolve("schedstat")).split(" ")[0]);
          long wakeups = 0;
          for (String line : Files.readAllLines(t.resolve("status"))) {
            if (line.startsWith("voluntary_ctxt_switches:")) {
              wakeups = Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
            }
          }
          m.put(name, new ThreadTimes(cpu, wakeups));
        } catch (IOException | RuntimeException e) {
          // the thread ended between listing and reading
        }
      }
    }
    return m;
  }
}
