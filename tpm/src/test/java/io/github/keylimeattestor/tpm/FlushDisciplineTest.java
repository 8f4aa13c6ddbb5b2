package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.ForwardingTransport;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import io.github.keylimeattestor.tpm.transport.TpmTransport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What we flush on a TPM with no resource manager (swtpm), where a leaked handle stays loaded and a
 * handle number can pass to another client: a success we refuse to read leaves nothing behind, and a
 * flush the TPM refused is never sent again. tpm2-tools checks what is left loaded.
 */
class FlushDisciplineTest {
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

  /** Passes everything through, but adds a byte (and counts it in responseSize) to the first answer. */
  private static final class OneByteLonger extends ForwardingTransport {
    private boolean done;

    OneByteLonger(TpmTransport real) {
      super(real);
    }

    @Override
    public byte[] transmit(byte[] command) throws IOException {
      byte[] r = super.transmit(command);
      if (done) {
        return r;
      }
      done = true;
      byte[] longer = Arrays.copyOf(r, r.length + 1);
      ByteBuffer.wrap(longer, 2, 4).putInt(longer.length);
      return longer;
    }
  }

  /** Counts the FlushContext commands that pass. */
  private static final class CountingFlushes extends ForwardingTransport {
    int flushes;

    CountingFlushes(TpmTransport real) {
      super(real);
    }

    @Override
    public byte[] transmit(byte[] command) throws IOException {
      if (commandCode(command) == CommandCode.FLUSH_CONTEXT) {
        flushes++;
      }
      return super.transmit(command);
    }
  }

  /** Our object is already gone (a stray tpm2_flushcontext): the refused flush is not sent a second time. */
  @Test
  void aFlushTheTpmRefusedIsNotSentAgain() throws Exception {
    CountingFlushes counting = new CountingFlushes(new SwtpmTransport("127.0.0.1", swtpm.port));
    try (Tpm tpm = new Tpm(counting)) {
      KeylimeTpm k = new KeylimeTpm(tpm);
      int handle = tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256())).handle();
      swtpm.tpm2("tpm2_flushcontext", String.format("0x%08x", handle));
      KeylimeTpm.Scope scope = k.new Scope();
      scope.add(handle);
      assertThatThrownBy(scope::close).isInstanceOf(TpmResponseException.class);
      assertThat(counting.flushes).isEqualTo(1);
    }
    assertThat(swtpm.tpm2("tpm2_getcap", "handles-transient").strip()).isEmpty();
  }

  @Test
  void theObjectOfASuccessWeCannotReadIsFlushed() throws Exception {
    assertThat(swtpm.tpm2("tpm2_getcap", "handles-transient").strip()).isEmpty();
    try (Tpm tpm = new Tpm(new OneByteLonger(new SwtpmTransport("127.0.0.1", swtpm.port)))) {
      assertThatThrownBy(() -> tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256())))
          .isInstanceOf(TpmFormatException.class).hasMessageContaining("trailing bytes");
    }
    assertThat(swtpm.tpm2("tpm2_getcap", "handles-transient").strip()).isEmpty();
  }

  /**
   * The AK's Load under the EK runs in a policy session that a successful Load ends (continueSession
   * clear). When that success cannot be read, the session handle is not flushed: the TPM freed it, and
   * without a resource manager its number may already be another client's session.
   */
  @Test
  void thePolicySessionOfALoadWhoseSuccessWeCannotReadIsNotFlushed() throws Exception {
    KeyBlob ak;
    try (Tpm tpm = new Tpm(new SwtpmTransport("127.0.0.1", swtpm.port))) {
      ak = new KeylimeAgentTpm(new KeylimeTpm(tpm)).createAk(Templates.akRsa(Alg.SHA256));
    }
    List<Integer> flushed = new ArrayList<>();
    TpmTransport loadAnswersLonger = new ForwardingTransport(new SwtpmTransport("127.0.0.1", swtpm.port)) {
      @Override
      public byte[] transmit(byte[] command) throws IOException {
        if (commandCode(command) == CommandCode.FLUSH_CONTEXT) {
          flushed.add(ByteBuffer.wrap(command, 10, 4).getInt());
        }
        byte[] r = super.transmit(command);
        if (commandCode(command) != CommandCode.LOAD || ByteBuffer.wrap(r, 6, 4).getInt() != 0) {
          return r;
        }
        byte[] longer = Arrays.copyOf(r, r.length + 1);
        ByteBuffer.wrap(longer, 2, 4).putInt(longer.length);
        return longer;
      }
    };
    try (Tpm tpm = new Tpm(loadAnswersLonger)) {
      assertThatThrownBy(() -> new KeylimeTpm(tpm).quote(ak, "0123456789abcdef".getBytes(StandardCharsets.US_ASCII),
          PcrSelection.of(Alg.SHA256, 16))).isInstanceOf(TpmFormatException.class).hasMessageContaining("trailing bytes");
    }
    assertThat(flushed).as("flushed handles").isNotEmpty().noneMatch(h -> (h >>> 24) == 0x03);
    assertThat(swtpm.tpm2("tpm2_getcap", "handles-transient").strip()).isEmpty();
    assertThat(swtpm.tpm2("tpm2_getcap", "handles-loaded-session").strip()).isEmpty();
  }
}
