package io.github.keylimeattestor.tpm.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * How many connections a sequence of TPM commands opens to swtpm, counted by a forwarding proxy in
 * front of a real swtpm: one per command with {@link Tcti.Spec#open} (libtss2's swtpm TCTI does the
 * same), one for the whole sequence with {@link Tcti.Spec#openForSequence}, and other clients are
 * served again once the sequence's transport is closed.
 */
class SwtpmSequenceTest {
  static Swtpm swtpm;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  @Test
  void aSequenceUsesOneConnectionAndSingleCommandsOneEach() throws Exception {
    try (CountingProxy proxy = new CountingProxy(swtpm.port)) {
      Tcti.Spec spec = Tcti.parse("swtpm:host=127.0.0.1,port=" + proxy.port());
      int perCommand = sequence(spec.open(10_000));
      assertThat(perCommand).as("commands in the sequence").isGreaterThan(3);
      assertThat(proxy.accepted()).as("connections, one per command").isEqualTo(perCommand);

      int before = proxy.accepted();
      int commands = sequence(spec.openForSequence(10_000));
      assertThat(commands).isEqualTo(perCommand);
      assertThat(proxy.accepted() - before).as("connections for the whole sequence").isEqualTo(1);

      // closed with the sequence: a client of its own (here tpm2-tools, straight to swtpm) is served
      assertThat(swtpm.tpm2("tpm2_getrandom", "--hex", "8").strip()).hasSize(16);
    }
  }

  /** Reads the EK and the transient handles, then closes the transport; the number of commands sent. */
  private static int sequence(TpmTransport transport) throws Exception {
    CountingTransport counting = new CountingTransport(transport);
    try (Tpm tpm = new Tpm(counting)) {
      KeylimeTpm ktpm = new KeylimeTpm(tpm);
      assertThat(ktpm.ekPublic()).isNotNull();
      for (int i = 0; i < 3; i++) {
        assertThat(ktpm.transientHandles()).as("transient handles").isEmpty();
      }
    }
    return counting.commands;
  }

  private static final class CountingTransport implements TpmTransport {
    private final TpmTransport inner;
    int commands;

    CountingTransport(TpmTransport inner) {
      this.inner = inner;
    }

    @Override
    public byte[] transmit(byte[] command) throws IOException {
      commands++;
      return inner.transmit(command);
    }

    @Override
    public void close() throws IOException {
      inner.close();
    }
  }

  /** Accepts on a loopback port and forwards each connection to swtpm, counting them. */
  private static final class CountingProxy implements AutoCloseable {
    private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    private final AtomicInteger accepted = new AtomicInteger();
    private final Thread acceptor;

    CountingProxy(int target) throws IOException {
      acceptor = new Thread(() -> {
        while (!server.isClosed()) {
          try {
            Socket client = server.accept();
            accepted.incrementAndGet();
            Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
            pipe(client, upstream);
            pipe(upstream, client);
          } catch (IOException e) {
            return; // closed
          }
        }
      }, "counting-proxy");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    int port() {
      return server.getLocalPort();
    }

    int accepted() {
      return accepted.get();
    }

    private static void pipe(Socket from, Socket to) {
      CompletableFuture.runAsync(() -> {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
          byte[] buf = new byte[8192];
          for (int n; (n = in.read(buf)) > 0; ) {
            out.write(buf, 0, n);
            out.flush();
          }
        } catch (IOException e) {
          // the other side closed
        } finally {
          try {
            to.close();
            from.close();
          } catch (IOException e) {
            // already closed
          }
        }
      });
    }

    @Override
    public void close() throws IOException {
      server.close();
      try {
        acceptor.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
