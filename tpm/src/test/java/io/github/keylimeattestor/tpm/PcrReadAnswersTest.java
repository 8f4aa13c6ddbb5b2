package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.testing.ForwardingTransport;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import io.github.keylimeattestor.tpm.transport.TpmTransport;
import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TPM2_PCR_Read returns at most 8 values per call, so more PCRs take several rounds. A round that
 * brings nothing new (here swtpm's real first answer, given again to the second call) must end the
 * read with a format error, not loop while the TPM lock is held.
 */
class PcrReadAnswersTest {
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

  /** Answers every PCR_Read after the first with the first one's answer. */
  private static final class FirstPcrReadAgain extends ForwardingTransport {
    private byte[] first;

    FirstPcrReadAgain(TpmTransport real) {
      super(real);
    }

    @Override
    public byte[] transmit(byte[] command) throws IOException {
      boolean pcrRead = commandCode(command) == CommandCode.PCR_READ;
      if (pcrRead && first != null) {
        return first.clone();
      }
      byte[] r = super.transmit(command);
      if (pcrRead) {
        first = r.clone();
      }
      return r;
    }
  }

  private static final PcrSelection TWELVE = PcrSelection.of(Alg.SHA256, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16);

  @Test
  void twelvePcrsTakeTwoRounds() throws Exception {
    try (Tpm tpm = new Tpm(new SwtpmTransport("127.0.0.1", swtpm.port))) {
      PcrBlob blob = new KeylimeTpm(tpm).readPcrs(TWELVE);
      assertThat(blob.selection()).isEqualTo(TWELVE);
    }
  }

  @Test
  void aRoundThatBringsNothingNewEndsTheRead() throws Exception {
    try (Tpm tpm = new Tpm(new FirstPcrReadAgain(new SwtpmTransport("127.0.0.1", swtpm.port)))) {
      KeylimeTpm k = new KeylimeTpm(tpm);
      assertTimeoutPreemptively(Duration.ofSeconds(20), () ->
          assertThatThrownBy(() -> k.readPcrs(TWELVE)).isInstanceOf(TpmFormatException.class)
              .hasMessageContaining("PCR_Read answered"));
    }
  }
}
