package io.github.keylimeattestor.tpm.testing;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.transport.RecordingTransport;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import io.github.keylimeattestor.tpm.transport.TpmTransport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * Deterministic TPM sessions, recorded once against swtpm into src/test/resources/traces and
 * replayed by unit tests. Re-record with {@code TraceScenarios.main} if a command's bytes change.
 */
public final class TraceScenarios {
  public static final byte[] NONCE = "kVx1n2Qo3R4s5T6u7W8y".getBytes(StandardCharsets.US_ASCII);
  public static final byte[] QUALIFYING = "app-key-qualifying-data-32-bytes".getBytes(StandardCharsets.US_ASCII);
  public static final PcrSelection SELECTION = PcrSelection.of(Alg.SHA256, 0, 1, 2, 3, 4, 5, 6, 7, 10, 16);

  /** What the quote/certify scenario produced. */
  public record QuoteCertify(KeyBlob ak, KeyBlob app, TpmPublic ek, byte[] ekCert,
      KeylimeTpm.Evidence evidence) {}

  private TraceScenarios() {}

  public static Tpm tpm(TpmTransport t) {
    return new Tpm(t, new Random(42));
  }

  /** EK, EK certificate, AK and App Key creation, then quote + certify. */
  public static QuoteCertify quoteCertify(Tpm tpm) throws Exception {
    KeylimeTpm k = new KeylimeTpm(tpm);
    TpmPublic ek = k.ekPublic();
    byte[] cert = new KeylimeAgentTpm(k).readEkCertificate();
    KeyBlob ak = new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256));
    KeyBlob app = k.createAppKey(Templates.appKeyEccP256());
    KeylimeTpm.Evidence e = k.quoteAndCertify(ak, NONCE, SELECTION, app, QUALIFYING);
    return new QuoteCertify(ak, app, ek, cert, e);
  }

  /** The same with a transient (template) EK, exercising ContextSave/ContextLoad. */
  public static KeylimeTpm.Evidence transientEk(Tpm tpm, KeyBlob ak, KeyBlob app) throws Exception {
    KeylimeTpm.Primary ek = new KeylimeTpm.Primary(0, io.github.keylimeattestor.tpm.Handles.RH_ENDORSEMENT,
        Templates.ekRsa2048());
    return new KeylimeTpm(tpm, ek, KeylimeTpm.SRK).quoteAndCertify(ak, NONCE, SELECTION, app, QUALIFYING);
  }

  /** Records the scenarios into {@code dir} (default tpm/src/test/resources/traces). */
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args.length > 0 ? args[0] : "src/test/resources/traces");
    Files.createDirectories(dir);
    try (Swtpm swtpm = Swtpm.start()) {
      RecordingTransport rec = new RecordingTransport(new SwtpmTransport("127.0.0.1", swtpm.port));
      rec.comment("swtpm 0.7.1 (swtpm_setup --create-ek-cert): TraceScenarios.quoteCertify, Random(42)");
      QuoteCertify qc = quoteCertify(tpm(rec));
      Files.writeString(dir.resolve("quote_certify.trace"), rec.trace());

      RecordingTransport rec2 = new RecordingTransport(new SwtpmTransport("127.0.0.1", swtpm.port));
      rec2.comment("swtpm 0.7.1: TraceScenarios.transientEk with the AK and App Key of quote_certify.trace, Random(42)");
      transientEk(tpm(rec2), qc.ak(), qc.app());
      Files.writeString(dir.resolve("transient_ek.trace"), rec2.trace());
      List<Integer> left = new KeylimeTpm(swtpm.tpm()).transientHandles();
      if (!left.isEmpty()) {
        throw new IllegalStateException("left loaded: " + left);
      }
    }
  }
}
