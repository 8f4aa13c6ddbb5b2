package io.github.keylimeattestor.tpm.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * swtpm runs a command whose bytes it has even when the sender gave up waiting; a handle such a late
 * command makes must not stay loaded (swtpm has no resource manager), or a few timeouts would leave
 * no slot for the Keylime agent's AK. Real swtpm; the EK is made from its template (RSA key
 * generation, tens of ms) so that millisecond timeouts expire while it runs.
 */
class SwtpmLateReplyTest {
  static Swtpm swtpm;
  static final KeylimeTpm.Primary TEMPLATE_EK =
      new KeylimeTpm.Primary(0, Handles.RH_ENDORSEMENT, Templates.ekRsa2048());

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
  void aHandleMadeByACommandThatTimedOutIsFlushedWhenItsReplyComes() throws Exception {
    int timedOut = 0;
    for (int timeoutMillis : new int[] {2, 5, 10, 20}) {
      try (Tpm tpm = new Tpm(new SwtpmTransport("127.0.0.1", swtpm.port, false, timeoutMillis))) {
        new KeylimeTpm(tpm, TEMPLATE_EK, KeylimeTpm.SRK).ekPublic();
      } catch (CommandMayHaveRunException e) {
        timedOut++;
        assertThat(e.getMessage()).contains("sent no reply within " + timeoutMillis + " ms");
      } catch (IOException e) {
        // the connect itself timed out: nothing was sent
        assertThat(e.getMessage()).contains("cannot connect to swtpm");
      }
    }
    assertThat(timedOut).as("commands that timed out").isPositive();
    assertThat(awaitNoTransientHandles(Duration.ofSeconds(20))).as("transient handles left").isEmpty();
    // and the TPM still has its slots: a full sequence works
    try (Tpm tpm = swtpm.tpm()) {
      assertThat(new KeylimeTpm(tpm, TEMPLATE_EK, KeylimeTpm.SRK).ekPublic()).isNotNull();
    }
    assertThat(awaitNoTransientHandles(Duration.ofSeconds(5))).isEmpty();
  }

  /**
   * A swtpm that takes connections and commands and answers none (stopped, or its state on a hung
   * disk) stands in here as a silent listener: what is tested is our bookkeeping of late replies. A
   * command that loads nothing takes no waiting slot, and with every slot taken no command that would
   * load something is sent, since nothing would flush what it made.
   */
  @Test
  void withEveryLateReplySlotTakenNothingThatLoadsAnObjectIsSent() throws Exception {
    // headers alone (tag, size, command code): the listener reads nothing
    byte[] createPrimary = HexFormat.of().parseHex("80020000000a00000131");
    byte[] getRandom = HexFormat.of().parseHex("80010000000c0000017b0008");
    List<java.net.Socket> accepted = new java.util.concurrent.CopyOnWriteArrayList<>();
    int before = LateReply.waiting(); // a JVM-wide count: other tests' late replies may still be waiting
    try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      Thread acceptor = new Thread(() -> {
        try {
          while (true) {
            accepted.add(silent.accept());
          }
        } catch (IOException e) {
          // closed
        }
      });
      acceptor.setDaemon(true);
      acceptor.start();
      SwtpmTransport t = new SwtpmTransport("127.0.0.1", silent.getLocalPort(), false, 100);
      assertThatThrownBy(() -> t.transmit(getRandom)).isInstanceOf(CommandMayHaveRunException.class);
      assertThat(LateReply.waiting()).as("slots after a command that loads nothing").isLessThanOrEqualTo(before);
      for (int i = 0; !LateReply.full(); i++) {
        assertThat(i).as("commands sent before the late-reply slots are full").isLessThanOrEqualTo(LateReply.MAX_WAITING);
        assertThatThrownBy(() -> t.transmit(createPrimary)).isInstanceOf(CommandMayHaveRunException.class);
      }
      int connections = accepted.size();
      assertThatThrownBy(() -> t.transmit(createPrimary)).isInstanceOf(IOException.class)
          .isNotInstanceOf(CommandMayHaveRunException.class)
          .hasMessageContaining("has not answered " + LateReply.MAX_WAITING + " earlier commands");
      Thread.sleep(200);
      assertThat(accepted).as("connections: the refused command was not sent").hasSize(connections);
    } finally {
      for (java.net.Socket s : accepted) {
        s.close();
      }
    }
    Instant end = Instant.now().plusSeconds(10);
    while (LateReply.waiting() > before && Instant.now().isBefore(end)) {
      Thread.sleep(50);
    }
    assertThat(LateReply.waiting()).as("slots once the connections closed").isLessThanOrEqualTo(before);
  }

  @Test
  void theHandleOfALateReplyIsReadOnlyFromCommandsThatMakeOne() {
    byte[] createPrimary = HexFormat.of().parseHex("80020000001b00000131");
    byte[] quote = HexFormat.of().parseHex("80020000001b00000158");
    byte[] ok = HexFormat.of().parseHex("80020000001200000000800000ff");
    byte[] refused = HexFormat.of().parseHex("8001000000120000090280000000");
    assertThat(LateReply.handleMade(createPrimary, ok)).isEqualTo(0x800000ff);
    assertThat(LateReply.handleMade(createPrimary, refused)).isZero();
    assertThat(LateReply.handleMade(quote, ok)).isZero();
    // TPM2_FlushContext(0x80000001): tag NO_SESSIONS, size 14, code 0x165, the handle as its parameter
    assertThat(HexFormat.of().formatHex(LateReply.flushContext(0x80000001))).isEqualTo("80010000000e0000016580000001");
  }

  static List<Integer> awaitNoTransientHandles(Duration within) throws IOException, InterruptedException,
      io.github.keylimeattestor.tpm.TpmException {
    Instant end = Instant.now().plus(within);
    while (true) {
      List<Integer> left;
      try (Tpm tpm = swtpm.tpm()) {
        left = new KeylimeTpm(tpm).transientHandles();
      }
      if (left.isEmpty() || Instant.now().isAfter(end)) {
        return left;
      }
      Thread.sleep(100);
    }
  }
}
