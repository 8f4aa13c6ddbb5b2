package io.github.keylimeattestor.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.core.ConditionTimeoutException;

/**
 * A real spire-server and spire-agent on 127.0.0.1 in a fresh directory, each configured with one
 * external NodeAttestor block given by the test. Everything it starts, {@link #close} stops.
 */
final class SpireTestbed implements AutoCloseable {
  static final String TRUST_DOMAIN = "example.org";

  final Path dir;
  final int serverPort;
  SpireProcess server;
  SpireProcess agent;
  /** The server's KeyManager block; "memory" loses the CA at a restart (agents then fail to sync). */
  String serverKeyManager = "KeyManager \"memory\" {\n    plugin_data {}\n  }";
  /** Extra environment for spire-server and so for its plugins (e.g. KEYLIME_ATTESTOR_JAVA_OPTS). */
  final java.util.Map<String, String> serverEnv = new java.util.LinkedHashMap<>();
  /** Extra environment for spire-agent and so for its plugins. */
  final java.util.Map<String, String> agentEnv = new java.util.LinkedHashMap<>();

  SpireTestbed() throws IOException {
    // Short path: Unix socket paths must stay under ~100 bytes.
    dir = Files.createTempDirectory(Path.of("/tmp"), "spire-it");
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      serverPort = s.getLocalPort();
    }
    Files.createDirectories(dir.resolve("data/server"));
    Files.createDirectories(dir.resolve("data/agent"));
  }

  Path serverSocket() {
    return dir.resolve("server.sock");
  }

  Path agentSocket() {
    return dir.resolve("agent.sock");
  }

  /** Writes server.conf with {@code nodeAttestorBlock} inside plugins {} and starts the server. */
  SpireProcess startServer(String extraServerSettings, String nodeAttestorBlock) throws IOException {
    return startServer(extraServerSettings, nodeAttestorBlock, "");
  }

  /** As above, with {@code topLevel} (e.g. a telemetry block) after the plugins. */
  SpireProcess startServer(String extraServerSettings, String nodeAttestorBlock, String topLevel) throws IOException {
    writeServerConf(extraServerSettings, nodeAttestorBlock, topLevel);
    server = SpireProcess.start("spire-server", dir,
        List.of(SpireBinaries.server().toString(), "run", "-config", "server.conf"), serverEnv);
    return server;
  }

  /** Writes server.conf only (for {@code spire-server validate}). */
  void writeServerConf(String extraServerSettings, String nodeAttestorBlock, String topLevel) throws IOException {
    String conf = """
        server {
          bind_address = "127.0.0.1"
          bind_port = "%d"
          socket_path = "%s"
          trust_domain = "%s"
          data_dir = "./data/server"
          log_level = "DEBUG"
          log_format = "json"
        %s
        }

        plugins {
          DataStore "sql" {
            plugin_data {
              database_type = "sqlite3"
              connection_string = "./data/server/datastore.sqlite3"
            }
          }
          %s
        %s
        }
        %s
        """.formatted(serverPort, serverSocket(), TRUST_DOMAIN, extraServerSettings, serverKeyManager, nodeAttestorBlock,
        topLevel);
    Files.writeString(dir.resolve("server.conf"), conf);
  }

  void awaitServerHealthy(Duration timeout) throws IOException, InterruptedException {
    awaitHealthy(SpireBinaries.server().toString(), serverSocket(), server, timeout);
  }

  /** Fetches the server's bundle, writes agent.conf and starts the agent. */
  SpireProcess startAgent(String nodeAttestorBlock) throws IOException, InterruptedException {
    return startAgent(nodeAttestorBlock, "agent");
  }

  /** As {@link #startAgent(String)} with its own data directory and log name (a fresh node identity). */
  SpireProcess startAgent(String nodeAttestorBlock, String name) throws IOException, InterruptedException {
    return startAgent(nodeAttestorBlock, name, diskKeyManager(name));
  }

  /** SPIRE's disk KeyManager in the agent's own data directory. */
  static String diskKeyManager(String name) {
    return """
          KeyManager "disk" {
            plugin_data {
              directory = "./data/%s"
            }
          }
        """.formatted(name);
  }

  /** As {@link #startAgent(String, String)} with {@code keyManagerBlock} instead of SPIRE's disk KeyManager. */
  SpireProcess startAgent(String nodeAttestorBlock, String name, String keyManagerBlock)
      throws IOException, InterruptedException {
    return startAgent(nodeAttestorBlock, name, keyManagerBlock, "");
  }

  /** As above, with {@code topLevel} (e.g. a telemetry block) after the plugins. */
  SpireProcess startAgent(String nodeAttestorBlock, String name, String keyManagerBlock, String topLevel)
      throws IOException, InterruptedException {
    String bundle = run(List.of(SpireBinaries.server().toString(), "bundle", "show", "-socketPath", serverSocket().toString()));
    Files.writeString(dir.resolve("bundle.pem"), bundle);
    String conf = """
        agent {
          data_dir = "./data/%s"
          log_level = "DEBUG"
          log_format = "json"
          server_address = "127.0.0.1"
          server_port = "%d"
          socket_path = "%s"
          trust_domain = "%s"
          trust_bundle_path = "./bundle.pem"
        }

        plugins {
        %s
          WorkloadAttestor "unix" {
            plugin_data {}
          }
        %s
        }
        %s
        """.formatted(name, serverPort, agentSocket(), TRUST_DOMAIN, keyManagerBlock, nodeAttestorBlock, topLevel);
    Files.createDirectories(dir.resolve("data").resolve(name));
    Files.writeString(dir.resolve(name + ".conf"), conf);
    agent = SpireProcess.start("spire-" + name, dir,
        List.of(SpireBinaries.agent().toString(), "run", "-config", name + ".conf"), agentEnv);
    return agent;
  }

  /** {@code spire-server agent list -output json}: the "agents" array. */
  JsonNode agentList() throws IOException, InterruptedException {
    String out = run(List.of(SpireBinaries.server().toString(), "agent", "list", "-socketPath",
        serverSocket().toString(), "-output", "json"));
    return SpireProcess.JSON.readTree(out).path("agents");
  }

  /**
   * Registers a workload entry (this test's uid) under a node entry for {@code keylime:uuid:<uuid>},
   * then waits up to 60 s until {@code spire-agent api fetch x509} returns its X509-SVID.
   */
  void awaitWorkloadSvidUnderNode(String uuid) throws IOException, InterruptedException {
    String server = SpireBinaries.server().toString();
    String sock = serverSocket().toString();
    run(List.of(server, "entry", "create", "-socketPath", sock, "-node", "-spiffeID",
        "spiffe://example.org/keylime-nodes", "-selector", "keylime:uuid:" + uuid));
    long uid = ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
    run(List.of(server, "entry", "create", "-socketPath", sock, "-parentID", "spiffe://example.org/keylime-nodes",
        "-spiffeID", "spiffe://example.org/workload", "-selector", "unix:uid:" + uid));
    await("the workload's X509-SVID").atMost(Duration.ofSeconds(60)).pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofSeconds(1)).pollInSameThread().untilAsserted(() -> {
          Process p = new ProcessBuilder(SpireBinaries.agent().toString(), "api", "fetch", "x509", "-socketPath",
              agentSocket().toString()).redirectErrorStream(true).start();
          String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
          p.waitFor(30, TimeUnit.SECONDS);
          assertThat(out).contains("SPIFFE ID:").contains("spiffe://example.org/workload");
        });
  }

  /**
   * A SPIRE CLI command in this testbed's directory, its temporary files too ({@code validate} starts
   * the plugins, whose sockets go to $TMPDIR, and kills them).
   */
  ProcessBuilder cli(List<String> command) {
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().put("TMPDIR", dir.toString());
    return pb;
  }

  /** Runs a SPIRE CLI command and returns its stdout; fails with its output if it exits non-zero. */
  String run(List<String> command) throws IOException, InterruptedException {
    Process p = cli(command).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", command) + " failed:\n" + new String(out, StandardCharsets.UTF_8));
    }
    return new String(out, StandardCharsets.UTF_8);
  }

  private void awaitHealthy(String binary, Path socket, SpireProcess proc, Duration timeout)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(binary, "healthcheck", "-socketPath", socket.toString()));
    try {
      await("SPIRE healthy on " + socket).atMost(timeout).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(250))
          .pollInSameThread().until(() -> {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
              return true;
            }
            if (!proc.process().isAlive()) {
              throw new AssertionError("SPIRE exited with " + proc.process().exitValue() + " before it was healthy\n"
                  + proc.tail());
            }
            return false;
          });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError("SPIRE not healthy within " + timeout + "\n" + proc.tail(), e);
    }
  }

  @Override
  public void close() {
    if (agent != null) {
      agent.close();
    }
    if (server != null) {
      server.close();
    }
    if (System.getenv("KEEP_SPIRE_IT") == null) {
      try (var walk = Files.walk(dir)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        // best effort: a leftover temp directory is not worth failing a test for
      }
    }
  }
}
