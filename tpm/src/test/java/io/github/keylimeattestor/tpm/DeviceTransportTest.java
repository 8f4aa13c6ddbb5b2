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
}
