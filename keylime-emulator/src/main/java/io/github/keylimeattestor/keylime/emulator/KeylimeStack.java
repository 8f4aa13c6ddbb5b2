package io.github.keylimeattestor.keylime.emulator;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The real local Keylime stack (swtpm, verifier, registrar) started by the project's scripts in
 * {@code integration-tests/keylime}, plus emulated agents run as separate processes. {@link
 * #close()} stops every process group, whatever happened before.
 */
public final class KeylimeStack implements AutoCloseable {
  public final Path scripts;
  public final Path dir;
  public final Map<String, String> env = new LinkedHashMap<>();
  private final List<Process> agents = new ArrayList<>();
  private final Map<String, String> scriptEnv = new LinkedHashMap<>();
  /** Stops the stack even if the test JVM is ended before close() (e.g. a killed build). */
  private final Thread shutdownHook = new Thread(this::stopQuietly, "keylime-stack-stop");

  private KeylimeStack(Path scripts, Path dir) {
    this.scripts = scripts;
    this.dir = dir;
  }

  public static KeylimeStack start() throws Exception {
    return start(Path.of(System.getProperty("keylime.workdir", "target/keylime-stack")), Map.of());
  }

  /** As {@link #start(Path, Map)}, e.g. with {@code STACK_MAX_RETRIES}. */
  public static KeylimeStack start(String workdir, Map<String, String> startEnv) throws Exception {
    return start(Path.of(workdir), startEnv);
  }

  /**
   * Starts a stack in {@code workDir} with extra environment for start.sh (e.g. {@code
   * STACK_TLS_EXTRA_CA}, {@code STACK_VERIFIER_SERVER_CERT}: see the script's header).
   */
  public static KeylimeStack start(Path workDir, Map<String, String> startEnv) throws Exception {
    Path scripts = Path.of(System.getProperty("keylime.scripts", "../integration-tests/keylime"))
        .toAbsolutePath().normalize();
    Path dir = workDir.toAbsolutePath().normalize();
    KeylimeStack s = new KeylimeStack(scripts, dir);
    s.scriptEnv.putAll(startEnv);
    Runtime.getRuntime().addShutdownHook(s.shutdownHook);
    // a previous run that died without cleaning up
    s.run(Duration.ofSeconds(60), "stop.sh", dir.toString());
    deleteTree(dir);
    Files.createDirectories(dir);
    try {
      s.run(Duration.ofMinutes(10), "install.sh");
      s.run(Duration.ofMinutes(3), "start.sh", dir.toString());
      for (String line : Files.readAllLines(dir.resolve("stack.env"))) {
        int eq = line.indexOf('=');
        if (!line.startsWith("#") && eq > 0) {
          s.env.put(line.substring(0, eq), line.substring(eq + 1));
        }
      }
    } catch (Exception e) {
      s.close();
      throw e;
    }
    return s;
  }

  public String get(String key) {
    String v = env.get(key);
    if (v == null) {
      throw new IllegalStateException(key + " missing from stack.env");
    }
    return v;
  }

  public Path path(String key) {
    return Path.of(get(key));
  }

  /** Runs a stack script; fails with its output if it exits non-zero. */
  public String run(Duration timeout, String script, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(scripts.resolve(script).toString());
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("keylime-" + script, ".log");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
      pb.environment().putAll(scriptEnv);
      Process p = pb.start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new IOException(script + " timed out; output:\n" + Files.readString(out));
      }
      String text = Files.readString(out, StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new IOException(script + " " + String.join(" ", args) + " exited " + p.exitValue() + ":\n" + text);
      }
      return text;
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** Starts an emulated agent as a separate JVM on the stack's swtpm. */
  public Process startAgent(String uuid, int port, Path keylimeDir) throws IOException {
    return startAgent(uuid, port, keylimeDir, "swtpm:host=127.0.0.1,port=" + get("SWTPM_PORT"), Map.of());
  }

  /**
   * Starts an emulated agent as a separate JVM on the TPM named by {@code tcti}, with extra
   * options (e.g. {@code --resident-ak}) and environment (e.g. {@code DBUS_SESSION_BUS_ADDRESS}).
   */
  public Process startAgent(String uuid, int port, Path keylimeDir, String tcti, Map<String, String> environment,
      String... extraArgs) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Files.createDirectories(keylimeDir);
    Path log = dir.resolve("logs").resolve("agent-" + uuid + ".log");
    List<String> cmd = new ArrayList<>(List.of(java, "-cp", cp, KeylimeAgentEmulator.class.getName(),
        "--uuid", uuid,
        "--tcti", tcti,
        "--registrar", get("REGISTRAR_HTTP_URL"),
        "--ip", "127.0.0.1", "--port", Integer.toString(port),
        "--keylime-dir", keylimeDir.toString(),
        "--trusted-client-ca", get("KEYLIME_CA_CERT"),
        "--trusted-client-ca", get("SPIRE_CLIENT_CA_CERT")));
    cmd.addAll(List.of(extraArgs));
    ProcessBuilder pb = new ProcessBuilder(cmd)
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().putAll(environment);
    Process p = pb.start();
    synchronized (agents) {
      agents.add(p);
    }
    return p;
  }

  /**
   * Starts an emulated push-mode agent (as rust-keylime's {@code keylime_push_model_agent}) as a
   * separate JVM on the stack's swtpm: it registers, then pushes evidence to the stack's verifier,
   * which must run with {@code STACK_VERIFIER_MODE=push}. Nothing listens on its side.
   */
  public Process startPushAgent(String uuid, Path keylimeDir) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Files.createDirectories(keylimeDir);
    Path log = dir.resolve("logs").resolve("agent-" + uuid + ".log");
    List<String> cmd = List.of(java, "-cp", cp, KeylimeAgentEmulator.class.getName(),
        "--uuid", uuid,
        "--tcti", "swtpm:host=127.0.0.1,port=" + get("SWTPM_PORT"),
        "--registrar", get("REGISTRAR_HTTP_URL"),
        "--ip", "127.0.0.1", "--port", "9002",
        "--keylime-dir", keylimeDir.toString(),
        "--push-verifier", get("VERIFIER_URL"),
        "--verifier-ca", get("KEYLIME_CA_CERT"));
    Process p = new ProcessBuilder(cmd)
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    synchronized (agents) {
      agents.add(p);
    }
    return p;
  }

  public String agentLog(String uuid) {
    try {
      return Files.readString(dir.resolve("logs").resolve("agent-" + uuid + ".log"));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  /** Kills an agent like a crash would (SIGKILL). */
  public static void kill(Process p) throws InterruptedException {
    p.destroyForcibly();
    p.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws IOException, InterruptedException {
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // already shutting down: the hook does the work
    }
    synchronized (agents) {
      for (Process p : agents) {
        kill(p);
      }
    }
    run(Duration.ofSeconds(90), "stop.sh", dir.toString());
  }

  private void stopQuietly() {
    try {
      synchronized (agents) {
        for (Process p : agents) {
          p.destroyForcibly();
        }
      }
      run(Duration.ofSeconds(60), "stop.sh", dir.toString());
    } catch (IOException | InterruptedException e) {
      // best effort at JVM exit
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var s = Files.walk(p)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
    }
  }
}
