package io.github.keylimeattestor.tpm.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A D-Bus daemon that accepts and then says nothing (stuck or overloaded): dbus-java's login reads
 * without a timeout, which held the caller, and with it the agent's TPM lock, for good. Now connect
 * and the name lookup give up at their timeout. The "daemon" is a Unix socket that only accepts: no
 * real bus can be made to hang on purpose.
 */
class TabrmdSilentBusTest {
  @Test
  @Timeout(30)
  void aBusThatAcceptsAndNeverAnswersTimesOut(@TempDir Path dir) throws Exception {
    Path socket = dir.resolve("bus");
    List<SocketChannel> held = new ArrayList<>();
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket));
      Thread acceptor = new Thread(() -> {
        try {
          while (true) {
            held.add(server.accept()); // and never a byte back
          }
        } catch (IOException e) {
          // closed at the end of the test
        }
      }, "silent-bus");
      acceptor.setDaemon(true);
      acceptor.start();
      String address = "unix:path=" + socket;
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> TabrmdTransport.connect(address, TabrmdTransport.DEFAULT_BUS_NAME, 1000))
          .isInstanceOf(IOException.class).hasMessageContaining("did not complete the login within 1000ms");
      long connectMs = (System.nanoTime() - t0) / 1_000_000;
      assertThat(connectMs).as("connect gave up near its timeout").isLessThan(10_000L);
      // the lookup the default TCTI makes: false, not a hang; and it does not wait behind the stuck one for ever
      assertThat(TabrmdTransport.nameHasOwner(address, TabrmdTransport.DEFAULT_BUS_NAME, 1000)).isFalse();
    } finally {
      for (SocketChannel c : held) {
        c.close();
      }
      Files.deleteIfExists(socket);
    }
  }
}
