package io.github.keylimeattestor.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.proto.health.HealthCheckRequest;
import io.github.keylimeattestor.proto.health.HealthCheckResponse.ServingStatus;
import io.github.keylimeattestor.proto.health.HealthGrpc;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent plugin's executable under a low descriptor limit, and a local peer that connects until
 * the plugin cannot accept any more: the plugin neither spins on the connection it cannot accept
 * (before, its event loop woke for it without end and logged each failure: 145,807 log records in
 * 2 s) nor stops accepting for good: once descriptors are free again, a new connection is served.
 */
class DescriptorExhaustionIT {
  private static final int DESCRIPTOR_LIMIT = 96;

  @Test
  void aPluginOutOfDescriptorsWaitsQuietlyAndServesNewConnectionsOnceThereAreSome(@TempDir Path dir) throws Exception {
    Path exe = SpireBinaries.projectFile("plugin-agent/target/keylime-attestor-agent");
    Path log = dir.resolve("plugin.log");
    List<SocketChannel> peers = new ArrayList<>();
    ExecutorService connector = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "exhaust-connect");
      t.setDaemon(true);
      return t;
    });
    try (PluginHost host = PluginHost.start(
        List.of("sh", "-c", "ulimit -n " + DESCRIPTOR_LIMIT + " && exec \"$0\"", exe.toString()), log, "NodeAttestor")) {
      long pid = host.process.pid();
      // connect until the plugin holds all its descriptors and one more connection waits unaccepted
      for (int i = 0; i < 2 * DESCRIPTOR_LIMIT && openDescriptors(pid) < DESCRIPTOR_LIMIT; i++) {
        peers.add(connect(connector, host.socket));
      }
      peers.add(connect(connector, host.socket));
      Awaitility.await().atMost(Duration.ofSeconds(10))
          .until(() -> host.logText().contains("Too many open files"));
      assertThat(openDescriptors(pid)).isGreaterThanOrEqualTo(DESCRIPTOR_LIMIT - 1);

      long before = logLines(log);
      Thread.sleep(2_000);
      long logged = logLines(log) - before;
      // Netty retries the accept once a second after a failure: a handful of records, not a flood
      assertThat(logged).as("log records over 2 s while out of descriptors").isLessThan(50);
      assertThat(host.process.isAlive()).isTrue();

      for (SocketChannel peer : peers) {
        peer.close();
      }
      ManagedChannel fresh = host.dial();
      try {
        Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() ->
            HealthGrpc.newBlockingStub(fresh).withDeadlineAfter(2, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService("plugin").build()).getStatus()
                == ServingStatus.SERVING);
      } finally {
        fresh.shutdownNow();
      }
    } finally {
      for (SocketChannel peer : peers) {
        peer.close();
      }
      connector.shutdownNow();
    }
  }

  /**
   * A connection to the plugin's socket. Past the listen backlog a connect blocks until the plugin
   * accepts; such a peer is kept unconnected (it is closed at the end).
   */
  private static SocketChannel connect(ExecutorService connector, String socket) throws Exception {
    SocketChannel peer = SocketChannel.open(StandardProtocolFamily.UNIX);
    Future<Boolean> connected = connector.submit(() -> peer.connect(UnixDomainSocketAddress.of(socket)));
    try {
      connected.get(2, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      // waits in the kernel: still a connection the plugin has to accept
    }
    return peer;
  }

  private static int openDescriptors(long pid) throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      return (int) fds.count();
    }
  }

  private static long logLines(Path log) throws IOException {
    try (Stream<String> lines = Files.lines(log)) {
      return lines.count();
    }
  }
}
