package io.github.keylimeattestor.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.proto.goplugin.Empty;
import io.github.keylimeattestor.proto.goplugin.GRPCControllerGrpc;
import io.github.keylimeattestor.proto.spire.config.ConfigGrpc;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.NodeAttestorGrpc;
import io.github.keylimeattestor.proto.spire.config.ConfigureRequest;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.grpc.ManagedChannel;
import io.grpc.ServerServiceDefinition;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PluginMain#serve(String[], Plugin...)} in a process of its own, as SPIRE starts it: what
 * goes to stdout and stderr, and how the process ends, when something fails after the handshake line.
 */
class ServeProcessTest {

  /** A NodeAttestor whose Configure throws on a thread of its own, or ("unservable") that has no service. */
  public static final class Main {
    public static void main(String[] args) {
      boolean unservable = args.length > 0 && args[0].equals("unservable");
      PluginMain.serve(new String[0], new Plugin() {
        @Override
        public String name() {
          return "serve-test";
        }

        @Override
        public ServerServiceDefinition nodeAttestor() {
          if (unservable) {
            throw new IllegalStateException("no service today");
          }
          return new NodeAttestorGrpc.NodeAttestorImplBase() {}.bindService();
        }

        @Override
        public Validation validate(CoreConfiguration core, String hcl) {
          return Validation.ok(List.of());
        }

        @Override
        public void configure(CoreConfiguration core, String hcl) {
          Thread t = new Thread(() -> {
            throw new IllegalStateException("boom on the plugin's own thread");
          }, "plugin-worker");
          t.start();
          try {
            t.join();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      });
    }
  }

  @Test
  void anUncaughtThrowableIsLoggedAsOneHclogLineAndThePluginServesOn(@TempDir Path dir) throws Exception {
    Process p = start(dir, "crash-a-thread");
    try {
      String handshake = readLine(p.getInputStream());
      assertThat(handshake).startsWith("1|1|unix|").endsWith("|grpc|");
      Transport client = new Transport();
      ManagedChannel ch = client.dial(handshake.split("\\|")[3]);
      try {
        ConfigGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
            .configure(ConfigureRequest.newBuilder().setHclConfiguration("a = 1").build());
        // still serving after the throwable: the host can shut it down as usual
        GRPCControllerGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).shutdown(Empty.getDefaultInstance());
      } catch (io.grpc.StatusRuntimeException e) {
        // Shutdown may end the connection before its answer arrives
        assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.UNAVAILABLE);
      } finally {
        ch.shutdownNow();
        client.close();
      }
      assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("exited").isTrue();
      assertThat(p.exitValue()).isZero();
      assertThat(p.getInputStream().readAllBytes()).as("stdout after the handshake line").isEmpty();
      List<String> stderr = hclogLines(dir);
      assertThat(stderr).filteredOn(l -> l.contains("\"@message\":\"uncaught throwable on a plugin thread\""))
          .singleElement().satisfies(l -> assertThat(l).contains("\"thread\":\"plugin-worker\"")
              .contains("boom on the plugin's own thread").contains("ServeProcessTest"));
    } finally {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** SPIRE's reload signal (SIGUSR1) and Ctrl-C's (SIGINT) reach a plugin with its process group: it serves on. */
  @Test
  void sigusr1AndSigintLeaveThePluginServing(@TempDir Path dir) throws Exception {
    Process p = start(dir, "crash-a-thread");
    try {
      String handshake = readLine(p.getInputStream());
      assertThat(handshake).startsWith("1|1|unix|");
      for (String signal : new String[] {"USR1", "INT", "USR1"}) {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).isZero();
      }
      Thread.sleep(500);
      assertThat(p.isAlive()).as("alive after SIGUSR1 and SIGINT").isTrue();
      Transport client = new Transport();
      ManagedChannel ch = client.dial(handshake.split("\\|")[3]);
      try {
        io.github.keylimeattestor.proto.health.HealthGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(io.github.keylimeattestor.proto.health.HealthCheckRequest.newBuilder().setService("plugin").build());
      } finally {
        ch.shutdownNow();
        client.close();
      }
    } finally {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aServerThatCannotStartAfterTheHandshakeLineSaysWhyAndExitsOne(@TempDir Path dir) throws Exception {
    Process p = start(dir, "unservable");
    try {
      String handshake = readLine(p.getInputStream());
      assertThat(handshake).startsWith("1|1|unix|");
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("exited").isTrue();
      assertThat(p.exitValue()).isEqualTo(1);
      assertThat(p.getInputStream().readAllBytes()).as("stdout after the handshake line").isEmpty();
      assertThat(hclogLines(dir)).filteredOn(l -> l.contains("\"@message\":\"plugin failed to start\""))
          .singleElement().satisfies(l -> assertThat(l).contains("no service today"));
      Path socket = Path.of(handshake.split("\\|")[3]);
      assertThat(Files.exists(socket.getParent())).as("socket directory removed").isFalse();
    } finally {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** The launcher's descriptor for the handshake, reopened through /proc: here fd 1, the test's pipe. */
  @Test
  void theHandshakeGoesToTheDescriptorTheLauncherNames(@TempDir Path dir) throws Exception {
    Process p = start(dir, "unservable", Map.of(PluginMain.HANDSHAKE_FD, "1"));
    try {
      assertThat(readLine(p.getInputStream())).startsWith("1|1|unix|").endsWith("|grpc|");
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("exited").isTrue();
      assertThat(p.getInputStream().readAllBytes()).as("stdout after the handshake line").isEmpty();
    } finally {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Not a number, or a descriptor that is not open: no handshake, exit 1, and stderr says whose it is to set. */
  @ParameterizedTest
  @ValueSource(strings = {"x1", "12345", "-1", "", "77"})
  void aBadHandshakeDescriptorExitsOneWithoutAHandshake(String fd, @TempDir Path dir) throws Exception {
    Process p = start(dir, "unservable", Map.of(PluginMain.HANDSHAKE_FD, fd));
    try {
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("exited").isTrue();
      assertThat(p.exitValue()).isEqualTo(1);
      assertThat(p.getInputStream().readAllBytes()).as("stdout").isEmpty();
      assertThat(Files.readString(dir.resolve("stderr"))).contains("cannot write the go-plugin handshake to "
          + PluginMain.HANDSHAKE_FD + "=" + fd + " (").contains("start the plugin through its executable");
    } finally {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static Process start(Path dir, String mode) throws IOException {
    return start(dir, mode, Map.of());
  }

  private static Process start(Path dir, String mode, Map<String, String> env) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx64m", "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), mode).redirectError(dir.resolve("stderr").toFile());
    pb.environment().put(PluginMain.COOKIE_KEY, PluginMain.COOKIE_VALUE);
    pb.environment().put("PLUGIN_PROTOCOL_VERSIONS", "1");
    pb.environment().put("PLUGIN_UNIX_SOCKET_DIR", dir.toString());
    pb.environment().remove(PluginMain.HANDSHAKE_FD);
    pb.environment().putAll(env);
    return pb.start();
  }

  /** stderr, each line checked to be one hclog JSON object. */
  private static List<String> hclogLines(Path dir) throws IOException {
    List<String> lines = Files.readAllLines(dir.resolve("stderr"), StandardCharsets.UTF_8);
    assertThat(lines).isNotEmpty().allSatisfy(l -> assertThat(l).startsWith("{\"@level\":\"").endsWith("}"));
    return lines;
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    for (int c = in.read(); c >= 0 && c != '\n'; c = in.read()) {
      b.append((char) c);
    }
    return b.toString();
  }
}
