package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.transport.DeviceTransport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device transport's framing, on a FIFO standing in for /dev/tpmrm0: what is written comes
 * back, and a TPM command has the same 10-byte header layout as a response.
 */
class DeviceTransportTest {
  @TempDir
  Path dir;

  private Path fifo() throws Exception {
    Path p = dir.resolve("tpm");
    Process mk = new ProcessBuilder("mkfifo", p.toString()).start();
    assertThat(mk.waitFor()).isZero();
    return p;
  }

  @Test
  void writesOneCommandAndReadsTheAnnouncedSize() throws Exception {
    Path p = fifo();
    byte[] getRandom = HexFormat.of().parseHex("80010000000c0000017b0008");
    try (DeviceTransport t = new DeviceTransport(p)) {
      assertThat(t.transmit(getRandom)).isEqualTo(getRandom);
      assertThat(t.transmit(getRandom)).isEqualTo(getRandom);
    }
  }

  @Test
  void rejectsAnOversizedResponseHeader() throws Exception {
    Path p = fifo();
    try (DeviceTransport t = new DeviceTransport(p)) {
      assertThatThrownBy(() -> t.transmit(HexFormat.of().parseHex("80017fffffff0000017b0008")))
          .isInstanceOf(IOException.class).hasMessageContaining("announces");
    }
    assertThat(Files.exists(p)).isTrue();
  }

  /**
   * A device that never completes its answer (here: the FIFO hands back a 12-byte "response" whose
   * header announces 14) is closed under the blocked read at the timeout: the command fails as one
   * that may have run, and the transport refuses further commands instead of hanging on them.
   */
  @Test
  @org.junit.jupiter.api.Timeout(60)
  void aDeviceThatStopsAnsweringIsClosedAtTheTimeout() throws Exception {
    Path p = fifo();
    byte[] announcesMore = HexFormat.of().parseHex("80010000000e0000017b0008");
    try (DeviceTransport t = new DeviceTransport(p, 300)) {
      assertThatThrownBy(() -> t.transmit(announcesMore))
          .isInstanceOf(io.github.keylimeattestor.tpm.transport.CommandMayHaveRunException.class)
          .hasMessageContaining(p + " did not answer within 300 ms");
      assertThatThrownBy(() -> t.transmit(HexFormat.of().parseHex("80010000000c0000017b0008")))
          .isInstanceOf(IOException.class).hasMessageContaining("was closed after a command it did not answer");
    }
  }

  @Test
  void aDeviceThatAnswersInTimeIsLeftOpen() throws Exception {
    Path p = fifo();
    byte[] getRandom = HexFormat.of().parseHex("80010000000c0000017b0008");
    try (DeviceTransport t = new DeviceTransport(p, 200)) {
      assertThat(t.transmit(getRandom)).isEqualTo(getRandom);
      Thread.sleep(400); // past the first command's deadline: its watchdog was cancelled
      assertThat(t.transmit(getRandom)).isEqualTo(getRandom);
    }
  }
}
