package io.github.keylimeattestor.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.proto.goplugin.ConnInfo;
import io.github.keylimeattestor.proto.goplugin.Empty;
import io.github.keylimeattestor.proto.goplugin.GRPCBrokerGrpc;
import io.github.keylimeattestor.proto.goplugin.GRPCControllerGrpc;
import io.github.keylimeattestor.proto.health.HealthCheckRequest;
import io.github.keylimeattestor.proto.health.HealthCheckResponse.ServingStatus;
import io.github.keylimeattestor.proto.health.HealthGrpc;
import io.github.keylimeattestor.proto.spire.config.ConfigGrpc;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.config.ValidateRequest;
import io.github.keylimeattestor.proto.spire.config.ValidateResponse;
import io.github.keylimeattestor.proto.spire.init.InitGrpc;
import io.github.keylimeattestor.proto.spire.init.InitRequest;
import io.github.keylimeattestor.sdk.Observers;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The plugin executables seen from a go-plugin host written in Java (what SPIRE does, step by step),
 * for the behaviours SPIRE's own output cannot show: exact stdout, socket directory mode, Init's
 * answer, Validate, and exit within go-plugin's 2 s after Shutdown.
 */
class PluginExecutableIT {
  static final Pattern HANDSHAKE = Pattern.compile("1\\|1\\|unix\\|(/[^|]+)\\|grpc\\|?");

  static Path executable(String name) {
    return switch (name) {
      case "keylime-attestor-agent" -> SpireBinaries.projectFile("plugin-agent/target/keylime-attestor-agent");
      case "keylime-attestor-server" -> SpireBinaries.projectFile("plugin-server/target/keylime-attestor-server");
      default -> Path.of(System.getProperty("test.attestor"));
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"keylime-attestor-agent", "keylime-attestor-server"})
  void runByHandPrintsGoPluginsMessageAndExits1(String name) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(executable(name).toString());
    pb.environment().remove("NodeAttestor");
    Process p = pb.start();
    try {
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isEqualTo(1);
      assertThat(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isEmpty();
      assertThat(new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8))
          .contains("This binary is a plugin. These are not meant to be executed directly.");
    } finally {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aRunningPluginWhoseExecutableIsOverwrittenInPlaceExitsInsteadOfFailingClassLoads() throws Exception {
    Path dir = Files.createTempDirectory("overwritten");
    Path exe = dir.resolve("keylime-attestor-agent");
    Path log = dir.resolve("plugin.log");
    Files.copy(executable("keylime-attestor-agent"), exe);
    try (PluginHost host = PluginHost.start(exe, log)) {
      // as `cp` onto the running file does (the same inode, another build's bytes); by rename it would not matter
      Files.write(exe, Files.readAllBytes(executable("keylime-attestor-server")),
          java.nio.file.StandardOpenOption.TRUNCATE_EXISTING);
      assertThat(host.process.waitFor(30, TimeUnit.SECONDS)).as("the plugin exits").isTrue();
      assertThat(host.process.exitValue()).isEqualTo(1);
      assertThat(Files.readString(log)).contains("the plugin executable was overwritten while the plugin runs")
          .contains("install a new version by rename");
    } finally {
      Files.deleteIfExists(exe);
      Files.deleteIfExists(log);
      Files.deleteIfExists(dir);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"keylime-attestor-agent", "keylime-attestor-server"})
  void servesTheHostProtocolAndExitsWithin2sOfShutdown(String name) throws Exception {
    boolean agent = name.endsWith("agent");
    ProcessBuilder pb = new ProcessBuilder(executable(name).toString()).redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("NodeAttestor", "NodeAttestor");
    pb.environment().put("PLUGIN_PROTOCOL_VERSIONS", "1");
    Process p = pb.start();
    MultiThreadIoEventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    ManagedChannel ch = null;
    try {
      BufferedReader stdout = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
      String line = stdout.readLine();
      assertThat(line).matches(HANDSHAKE);
      Matcher m = HANDSHAKE.matcher(line);
      assertThat(m.matches()).isTrue();
      Path socket = Path.of(m.group(1));
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket.getParent()))).isEqualTo("rwx------");

      ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
          .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop)
          .withOption(io.netty.channel.ChannelOption.SO_KEEPALIVE, null).usePlaintext().build();
      assertThat(HealthGrpc.newBlockingStub(ch).check(HealthCheckRequest.newBuilder().setService("plugin").build())
          .getStatus()).isEqualTo(ServingStatus.SERVING);

      // The host's broker stream: it sends the host-service address and keeps the stream open.
      StreamObserver<ConnInfo> broker = GRPCBrokerGrpc.newStub(ch).startStream(Observers.<ConnInfo>ignoring());
      broker.onNext(ConnInfo.newBuilder().setServiceId(1).setNetwork("unix").setAddress("/nonexistent/host.sock").build());

      List<String> names = InitGrpc.newBlockingStub(ch).init(InitRequest.newBuilder()
          .addHostServiceNames("spire.hostservice.common.metrics.v1.Metrics").build()).getPluginServiceNamesList();
      assertThat(names).containsExactly(
          agent ? "spire.plugin.agent.nodeattestor.v1.NodeAttestor" : "spire.plugin.server.nodeattestor.v1.NodeAttestor",
          "spire.service.common.config.v1.Config");

      ValidateResponse bad = ConfigGrpc.newBlockingStub(ch).validate(ValidateRequest.newBuilder()
          .setCoreConfiguration(CoreConfiguration.newBuilder().setTrustDomain("example.org"))
          .setHclConfiguration("key = ").build());
      assertThat(bad.getValid()).isFalse();
      assertThat(bad.getNotesList()).anyMatch(n -> n.contains("line 1"));

      long before = System.nanoTime();
      GRPCControllerGrpc.newBlockingStub(ch).shutdown(Empty.getDefaultInstance());
      assertThat(p.waitFor(2, TimeUnit.SECONDS)).as("plugin exits within 2 s of Shutdown").isTrue();
      System.err.printf("%s exited %d ms after Shutdown%n", name, (System.nanoTime() - before) / 1_000_000);
      assertThat(p.exitValue()).isZero();
      assertThat(stdout.readLine()).as("nothing but the handshake on stdout").isNull();
      assertThat(socket.getParent()).doesNotExist();
    } finally {
      if (ch != null) {
        ch.shutdownNow();
      }
      loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      p.destroyForcibly();
    }
  }

  /** What the JVM itself writes to fd 1 (here a SIGQUIT thread dump) goes to stderr, SPIRE's log. */
  @ParameterizedTest
  @ValueSource(strings = {"keylime-attestor-agent", "keylime-attestor-server"})
  void aThreadDumpGoesToStderrAndStdoutKeepsOnlyTheHandshake(String name) throws Exception {
    handshakeThenThreadDumpOnStderr(List.of(executable(name).toString()), Map.of());
  }

  /**
   * A plugin_cmd wrapper that drops privileges (setpriv, runuser) hands the plugin the host's stdout
   * pipe, which the new user may write but not open again: the launcher sees that and keeps stdout as
   * it is, the handshake still goes out, and HotSpot's thread dump still goes to stderr. Needs root, to
   * become nobody; CI runs as root.
   */
  @ParameterizedTest
  @ValueSource(strings = {"keylime-attestor-agent", "keylime-attestor-server"})
  void aWrapperThatDropsPrivilegesStillGetsTheHandshakeAndTheDumpOnStderr(String name) throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
        "becoming another user needs root");
    handshakeThenThreadDumpOnStderr(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
        executable(name).toString()), Map.of("KEYLIME_ATTESTOR_HANDSHAKE_FD", "1")); // the caller's: ignored
  }

  /**
   * Starts {@code command} as a go-plugin host would, reads the handshake, has the JVM print a thread
   * dump (SIGQUIT) and checks it lands on stderr with the plugin still serving, then stops it with
   * SIGTERM and checks stdout held nothing but the handshake.
   */
  private static void handshakeThenThreadDumpOnStderr(List<String> command, Map<String, String> env) throws Exception {
    Path stderr = Files.createTempFile("plugin-stderr", ".txt");
    ProcessBuilder pb = new ProcessBuilder(command).redirectError(stderr.toFile());
    pb.environment().put("NodeAttestor", "NodeAttestor");
    pb.environment().put("PLUGIN_PROTOCOL_VERSIONS", "1");
    pb.environment().putAll(env);
    Process p = pb.start();
    try {
      BufferedReader stdout = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
      assertThat(stdout.readLine()).as("handshake; stderr: %s", stderr).matches(HANDSHAKE);
      signal("QUIT", p);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!Files.readString(stderr).contains("Full thread dump") && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertThat(Files.readString(stderr)).as("the JVM's thread dump on stderr").contains("Full thread dump");
      assertThat(p.isAlive()).as("SIGQUIT does not stop the plugin").isTrue();
      // SIGTERM by hand: Process.destroy() would also close our end of its stdout
      signal("TERM", p);
      assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(stdout.readLine()).as("nothing but the handshake on stdout").isNull();
    } finally {
      p.destroyForcibly();
      Files.deleteIfExists(stderr);
    }
  }

  private static void signal(String name, Process p) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(p.pid())).inheritIO().start();
    assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(kill.exitValue()).isZero();
  }

  @Test
  void spireServerValidateAcceptsAGoodConfigAndShowsThePluginsNoteForABadOne() throws Exception {
    Path exe = Path.of(System.getProperty("test.attestor"));
    String block = """
          NodeAttestor "test_attestor" {
            plugin_cmd = "%s"
            plugin_args = ["server"]
            plugin_data {
              shared_secret = "x"
              challenge_size = %d
            }
          }
        """;
    try (SpireTestbed bed = new SpireTestbed()) {
      bed.startServer("", block.formatted(exe, 32)).stop(java.time.Duration.ofSeconds(10));
      String ok = bed.run(List.of(SpireBinaries.server().toString(), "validate", "-config", "server.conf"));
      assertThat(ok).contains("SPIRE server configuration file is valid.");

      bed.startServer("", block.formatted(exe, 4)).stop(java.time.Duration.ofSeconds(10));
      Process p = bed.cli(List.of(SpireBinaries.server().toString(), "validate", "-config", "server.conf")).start();
      try {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("spire-server validate ends").isTrue();
        assertThat(p.exitValue()).isNotZero();
        assertThat(out).contains("NodeAttestor \"test_attestor\"").contains("challenge_size must be between 16 and 1024");
      } finally {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
