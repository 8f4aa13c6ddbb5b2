package io.github.keylimeattestor.it;

import io.github.keylimeattestor.proto.goplugin.ConnInfo;
import io.github.keylimeattestor.proto.goplugin.Empty;
import io.github.keylimeattestor.proto.goplugin.GRPCBrokerGrpc;
import io.github.keylimeattestor.proto.goplugin.GRPCControllerGrpc;
import io.github.keylimeattestor.proto.health.HealthCheckRequest;
import io.github.keylimeattestor.proto.health.HealthCheckResponse.ServingStatus;
import io.github.keylimeattestor.proto.health.HealthGrpc;
import io.github.keylimeattestor.proto.spire.config.ConfigGrpc;
import io.github.keylimeattestor.proto.spire.config.ConfigureRequest;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.config.ValidateRequest;
import io.github.keylimeattestor.proto.spire.config.ValidateResponse;
import io.github.keylimeattestor.proto.spire.init.InitGrpc;
import io.github.keylimeattestor.proto.spire.init.InitRequest;
import io.github.keylimeattestor.sdk.Observers;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;

/**
 * A go-plugin host in Java that does what SPIRE does with a plugin executable (start it, read the
 * handshake, dial its socket, broker stream, Init, Configure), so a test can then drive the
 * plugin's NodeAttestor streams itself: with messages and timings SPIRE would never produce.
 * {@link #close()} shuts the plugin down (Shutdown, then SIGKILL if it is still there).
 */
final class PluginHost implements AutoCloseable {
  final Process process;
  final ManagedChannel channel;
  final Path log;
  final String socket;
  private final MultiThreadIoEventLoopGroup loop;
  /** PLUGIN_UNIX_SOCKET_DIR: removed at close, also when the plugin was killed and left its socket. */
  private final Path socketDir;

  private PluginHost(Process process, String socket, Path log, MultiThreadIoEventLoopGroup loop, Path socketDir) {
    this.process = process;
    this.socketDir = socketDir;
    this.socket = socket;
    this.log = log;
    this.loop = loop;
    this.channel = dial();
  }

  /** Starts {@code executable}; its stderr (hclog JSON) goes to {@code log}. No host services are offered. */
  static PluginHost start(Path executable, Path log) throws IOException {
    return start(executable, log, "NodeAttestor");
  }

  /** As {@link #start(Path, Path)} for a plugin block of type {@code pluginType} (its magic cookie). */
  static PluginHost start(Path executable, Path log, String pluginType) throws IOException {
    return start(List.of(executable.toString()), log, pluginType);
  }

  /** As {@link #start(Path, Path, String)} for a command that execs the plugin (e.g. under a shell's ulimit). */
  static PluginHost start(List<String> command, Path log, String pluginType) throws IOException {
    String executable = command.get(command.size() - 1);
    Files.createDirectories(log.getParent());
    ProcessBuilder pb = new ProcessBuilder(command)
        .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().put(pluginType, pluginType);
    pb.environment().put("PLUGIN_PROTOCOL_VERSIONS", "1");
    Path socketDir = Files.createTempDirectory(Path.of("/tmp"), "plugin-host"); // short: a socket path has 108 bytes
    pb.environment().put("PLUGIN_UNIX_SOCKET_DIR", socketDir.toString());
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      deleteTree(socketDir);
      throw e;
    }
    MultiThreadIoEventLoopGroup loop = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
    try {
      BufferedReader stdout = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
      String line = stdout.readLine();
      Matcher m = PluginExecutableIT.HANDSHAKE.matcher(line == null ? "" : line);
      if (!m.matches()) {
        throw new IOException(executable + " printed no go-plugin handshake (got " + line + "); log: " + log);
      }
      PluginHost host = new PluginHost(p, m.group(1), log, loop, socketDir);
      ManagedChannel ch = host.channel;
      GRPCBrokerGrpc.newStub(ch).startStream(Observers.<ConnInfo>ignoring())
          .onNext(ConnInfo.newBuilder().setServiceId(1).setNetwork("unix").setAddress("/nonexistent/host.sock").build());
      InitGrpc.newBlockingStub(ch).init(InitRequest.getDefaultInstance());
      return host;
    } catch (IOException | RuntimeException e) {
      p.destroyForcibly();
      loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
      }
      deleteTree(socketDir);
      throw e;
    }
  }

  private static void deleteTree(Path dir) {
    try (var files = Files.walk(dir)) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    } catch (IOException | java.io.UncheckedIOException e) {
      // best effort: a test directory under /tmp
    }
  }

  /** A new connection to the plugin's socket (the caller shuts it down). */
  ManagedChannel dial() {
    return NettyChannelBuilder.forAddress(new DomainSocketAddress(socket))
        .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop)
        .withOption(ChannelOption.SO_KEEPALIVE, null).usePlaintext().build();
  }

  void configure(String trustDomain, String hcl) {
    ConfigGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).configure(ConfigureRequest.newBuilder()
        .setCoreConfiguration(CoreConfiguration.newBuilder().setTrustDomain(trustDomain)).setHclConfiguration(hcl).build());
  }

  ValidateResponse validate(String trustDomain, String hcl) {
    return ConfigGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).validate(ValidateRequest.newBuilder()
        .setCoreConfiguration(CoreConfiguration.newBuilder().setTrustDomain(trustDomain)).setHclConfiguration(hcl).build());
  }

  boolean serving() {
    return process.isAlive() && HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .check(HealthCheckRequest.newBuilder().setService("plugin").build()).getStatus() == ServingStatus.SERVING;
  }

  String logText() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() {
    try {
      if (process.isAlive()) {
        GRPCControllerGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS).shutdown(Empty.getDefaultInstance());
      }
    } catch (RuntimeException e) {
      // already gone or wedged: killed below
    } finally {
      channel.shutdownNow();
      try {
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
      loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      if (!process.isAlive()) {
        deleteTree(socketDir);
      }
    }
  }
}
