package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The PCR blob and the quote string's base64 have one reading (issue 9 item 6): every flipped byte
 * of a genuine blob is refused, as a malformed blob or as one that no longer matches the signed
 * quote; genuine blobs from our TPM code and from tpm2_quote (the layout rust-keylime recreates)
 * pass. Real swtpm with SHA-1 and SHA-256 banks.
 */
class CanonicalEvidenceTest {
  static final byte[] NONCE = "canonical0123456789x".getBytes(StandardCharsets.US_ASCII);
  static Swtpm swtpm;
  static KeylimeTpm tpm;
  static KeyBlob ak;
  static TpmVerifier verifier;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start("sha1,sha256");
    tpm = new KeylimeTpm(swtpm.tpm());
    ak = new KeylimeAgentTpm(tpm).createAk(Templates.akRsa(Alg.SHA256));
    verifier = TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.ALLOW_SHA1);
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  /** tpm2_quote by a tpm2-tools AK over {@code pcrs}: its AK and the quote with its -o PCR file. */
  private static TpmVerifier toolsQuote(String name, String pcrs, KeylimeQuote[] out) throws Exception {
    swtpm.tpm2("tpm2_createak", "-C", "0x81010001", "-c", name + ".ctx", "-G", "rsa", "-g", "sha256",
        "-s", "rsassa", "-u", name + ".pub", "-r", name + ".priv");
    try {
      swtpm.tpm2("tpm2_quote", "-c", name + ".ctx", "-l", pcrs, "-q", HexFormat.of().formatHex(NONCE),
          "-m", name + ".msg", "-s", name + ".sig", "-o", name + ".pcrs", "-g", "sha256");
    } finally {
      swtpm.tpm2("tpm2_flushcontext", "-t");
    }
    out[0] = new KeylimeQuote(Bytes.copyFrom(read(name + ".msg")), Bytes.copyFrom(read(name + ".sig")),
        Bytes.copyFrom(read(name + ".pcrs")));
    return TpmVerifier.forAk(TpmPublic.parseTpm2b(read(name + ".pub")), AlgorithmPolicy.ALLOW_SHA1);
  }

  private static byte[] read(String file) throws Exception {
    return Files.readAllBytes(swtpm.dir().resolve(file));
  }

  @Test
  void genuineBlobsFromOurCodeAndTpm2QuotePass() throws Exception {
    // identity quote (PCR 16) as a Keylime agent makes it: 668 bytes
    KeylimeQuote identity = tpm.quote(ak, NONCE, PcrSelection.of(Alg.SHA256, 16));
    assertThat(identity.pcrBlob().size()).isEqualTo(668);
    verifier.verifyQuote(KeylimeQuote.parse(identity.encode()), NONCE);

    // two banks, 20 values in 3 digest lists (8, 8, 4), sizes 20 and 32
    KeylimeQuote[] q = new KeylimeQuote[1];
    TpmVerifier toolsAk = toolsQuote("two", "sha1:0,1,2,3,4,5,6,7,8,16+sha256:0,1,2,3,4,5,6,7,8,16", q);
    assertThat(q[0].pcrBlob().size()).isEqualTo(136 + 3 * 532);
    TpmVerifier.VerifiedQuote v = toolsAk.verifyQuote(KeylimeQuote.parse(q[0].encode()), NONCE);
    assertThat(v.pcrs().values()).hasSize(20);
    // our encoding (the chunks of 8 that rust-keylime's pcrdata_to_vec writes too) is byte-identical
    assertThat(v.pcrs().encode()).isEqualTo(q[0].pcrBlob().toByteArray());
    assertThat(tpm.readPcrs(v.pcrs().selection()).encode()).isEqualTo(q[0].pcrBlob().toByteArray());
  }

  @Test
  void everyFlippedByteOfAGenuineBlobIsRefused() throws Exception {
    PcrSelection sel = PcrSelection.of(Alg.SHA256, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16);
    KeylimeQuote q = tpm.quote(ak, NONCE, sel);
    byte[] blob = q.pcrBlob().toByteArray();
    assertThat(blob).hasSize(136 + 2 * 532);
    verifier.verifyQuote(q, NONCE);
    int formatErrors = 0;
    for (int i = 0; i < blob.length; i++) {
      for (int bit : new int[] {0x01, 0x80}) {
        byte[] flipped = blob.clone();
        flipped[i] ^= (byte) bit;
        KeylimeQuote f = new KeylimeQuote(q.attest(), q.signature(), Bytes.copyFrom(flipped));
        int at = i;
        assertThatThrownBy(() -> verifier.verifyQuote(f, NONCE)).as("flip 0x%02x at byte %d", bit, at)
            .isInstanceOfAny(TpmFormatException.class, TpmVerificationException.class);
        try {
          PcrBlob.parse(flipped);
        } catch (TpmFormatException e) {
          formatErrors++;
        }
      }
    }
    // bytes with a meaning (count, bank, select bits, sizes, values) still parse but no longer match the
    // signed quote; everything else is malformed: most of the blob is unused slots and padding
    assertThat(formatErrors).isGreaterThan(2 * (blob.length - 11 * 34 - 40));
  }

  @Test
  void theThreeKindsOfUnusedBytesFromTheIssueAreMalformed() throws Exception {
    KeylimeQuote q = tpm.quote(ak, NONCE, PcrSelection.of(Alg.SHA256, 16));
    byte[] blob = q.pcrBlob().toByteArray();
    int[] positions = {
        4 + 8 + 2,          // selection entry 1 (unused bank entry): sizeofSelect
        4 + 6,              // entry 0: pcrSelect[3], past sizeofSelect 3
        4 + 7,              // entry 0: pad byte
        136 + 4 + 2 + 32,   // digest list 0, slot 0: padding after the 32-byte value
        136 + 4 + 66 + 5,   // digest list 0, slot 1 (unused digest slot)
    };
    for (int p : positions) {
      byte[] flipped = blob.clone();
      flipped[p] = 1;
      assertThatThrownBy(() -> PcrBlob.parse(flipped)).as("byte %d", p).isInstanceOf(TpmFormatException.class)
          .hasMessageContaining("only 0 has a meaning");
    }
  }

  @Test
  void base64MustBeCanonical() throws Exception {
    KeylimeQuote q = tpm.quote(ak, NONCE, PcrSelection.of(Alg.SHA256, 16));
    String good = q.encode();
    assertThat(KeylimeQuote.parse(good).encode()).isEqualTo(good);
    String[] parts = good.substring(1).split(":");
    // the 256+6-byte signature ends in "==": drop the padding, or set the 4 unused bits of its last character
    String sig = parts[1];
    assertThat(sig).endsWith("==");
    String unpadded = sig.substring(0, sig.length() - 2);
    char last = unpadded.charAt(unpadded.length() - 1);
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char stray = alphabet.charAt(alphabet.indexOf(last) ^ 1);
    String strayBits = unpadded.substring(0, unpadded.length() - 1) + stray + "==";
    assertThat(Base64.getDecoder().decode(strayBits)).isEqualTo(Base64.getDecoder().decode(sig));
    for (String bad : List.of(unpadded, strayBits, sig.replace("==", "=")) ) {
      String quote = "r" + parts[0] + ":" + bad + ":" + parts[2];
      assertThatThrownBy(() -> KeylimeQuote.parse(quote)).as(bad.substring(bad.length() - 4))
          .isInstanceOf(TpmFormatException.class);
    }
    String mime = "r" + parts[0] + ":" + sig + ":" + parts[2].substring(0, 76) + "\r\n" + parts[2].substring(76);
    assertThatThrownBy(() -> KeylimeQuote.parse(mime)).isInstanceOf(TpmFormatException.class);
  }
}
