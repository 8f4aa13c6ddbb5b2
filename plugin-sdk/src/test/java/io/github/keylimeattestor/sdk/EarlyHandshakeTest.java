package io.github.keylimeattestor.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.proto.spire.config.ConfigGrpc;
import io.github.keylimeattestor.proto.spire.config.ValidateRequest;
import io.github.keylimeattestor.proto.spire.config.ValidateResponse;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The handshake line is printed once the socket listens, before the gRPC server exists: a host that
 * connects and calls in between waits, and is answered once the server is up, on the same socket.
 */
class EarlyHandshakeTest {
  private static final byte SETTINGS = 4;
  /** The client connection preface (RFC 9113, section 3.4) and a SETTINGS frame without settings. */
  private static final byte[] HTTP2_PREFACE_AND_EMPTY_SETTINGS = concat(
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
      new byte[] {0, 0, 0, SETTINGS, 0, 0, 0, 0, 0});

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
      // connected and its HTTP/2 preface sent before any server exists: it waits in the backlog
      assertThat(early.connect(UnixDomainSocketAddress.of(socket))).isTrue();
      early.write(ByteBuffer.wrap(HTTP2_PREFACE_AND_EMPTY_SETTINGS));
      Future<ValidateResponse> answer = ConfigGrpc.newFutureStub(ch)
          .validate(ValidateRequest.newBuilder().setHclConfiguration("a = 1").build());
      Future<byte[]> firstFrame = CompletableFuture.supplyAsync(() -> readFrameHeader(early));
      Thread.sleep(300);
      assertThat(answer).isNotDone();
      assertThat(firstFrame).isNotDone();

      main.serve();
      assertThat(answer.get(10, TimeUnit.SECONDS).getNotesList()).containsExactly("got 5 characters");
      assertThat(firstFrame.get(10, TimeUnit.SECONDS)[3]).as("HTTP/2 frame type").isEqualTo(SETTINGS);
    } finally {
      ch.shutdownNow();
      client.close();
      main.stop();
    }
    assertThat(Files.exists(socket)).isFalse();
    assertThat(Files.exists(socket.getParent())).isFalse();
  }

  /** The 9-byte header of the first frame the server sends. */
  private static byte[] readFrameHeader(SocketChannel ch) {
    ByteBuffer header = ByteBuffer.allocate(9);
    try {
      while (header.hasRemaining()) {
        if (ch.read(header) < 0) {
          throw new IllegalStateException("the server closed the connection");
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return header.array();
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
