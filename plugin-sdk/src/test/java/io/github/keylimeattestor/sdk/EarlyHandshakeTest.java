package io.github.keylimeattestor.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.proto.spire.config.ConfigGrpc;
import io.github.keylimeattestor.proto.spire.config.ValidateRequest;
import io.github.keylimeattestor.proto.spire.config.ValidateResponse;
import io.grpc.ManagedChannel;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The handshake line is printed once the socket listens, before the gRPC server exists: a host that
 * connects and calls in between waits, and is answered once the server is up, on the same socket.
 */
class EarlyHandshakeTest {
  @Test
  void aHostThatCallsBetweenTheHandshakeAndTheServerIsAnsweredOnTheSameSocket(@TempDir Path dir) throws Exception {
    PluginMain main = new PluginMain(new MessageBoundTest.AnyConfig());
    String handshake = main.listen(Map.of("PLUGIN_UNIX_SOCKET_DIR", dir.toString()));
    String[] fields = handshake.split("\\|", -1);
    assertThat(fields).containsExactly("1", "1", "unix", fields[3], "grpc", "");
    Path socket = Path.of(fields[3]);
    Transport client = new Transport();
    ManagedChannel ch = client.dial(socket.toString());
    try (SocketChannel early = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      assertThat(early.connect(UnixDomainSocketAddress.of(socket))).isTrue();
      Future<ValidateResponse> answer = ConfigGrpc.newFutureStub(ch)
          .validate(ValidateRequest.newBuilder().setHclConfiguration("a = 1").build());
      Thread.sleep(300);
      assertThat(answer).isNotDone();

      main.serve();
      assertThat(answer.get(10, TimeUnit.SECONDS).getNotesList()).containsExactly("got 5 characters");
    } finally {
      ch.shutdownNow();
      client.close();
      main.stop();
    }
    assertThat(Files.exists(socket)).isFalse();
    assertThat(Files.exists(socket.getParent())).isFalse();
  }
}
