package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.testing.AgentDataWriter;
import io.github.keylimeattestor.tpm.testing.CredentialBlob;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.github.keylimeattestor.tpm.testing.TraceScenarios;
import io.github.keylimeattestor.tpm.transport.ReplayTransport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every parser rejects truncated, trailing and oversized input with TpmFormatException only, and
 * random corruption never escapes as another exception type.
 */
class FormatTest {
  interface Parser {
    Object parse(byte[] input, int limit) throws TpmFormatException;
  }

  static final Map<String, Parser> PARSERS = new LinkedHashMap<>();
  static final Map<String, byte[]> SAMPLES = new LinkedHashMap<>();

  @BeforeAll
  static void samples() throws Exception {
    TraceScenarios.QuoteCertify qc = TraceScenarios.quoteCertify(TraceScenarios.tpm(
        ReplayTransport.load(Path.of("src/test/resources/traces", "quote_certify.trace"))));
    PublicKey ek = qc.ek().toPublicKey();
    PARSERS.put("TPM2B_PUBLIC ak", TpmPublic::parseTpm2b);
    SAMPLES.put("TPM2B_PUBLIC ak", qc.ak().publicArea().marshalTpm2b());
    PARSERS.put("TPM2B_PUBLIC ek", TpmPublic::parseTpm2b);
    SAMPLES.put("TPM2B_PUBLIC ek", qc.ek().marshalTpm2b());
    PARSERS.put("TPMT_PUBLIC app", TpmPublic::parse);
    SAMPLES.put("TPMT_PUBLIC app", qc.app().publicArea().marshal());
    PARSERS.put("key blob", KeyBlob::parse);
    SAMPLES.put("key blob", qc.app().marshal());
    PARSERS.put("TPMS_ATTEST quote", Attest::parse);
    SAMPLES.put("TPMS_ATTEST quote", qc.evidence().quote().attest().toByteArray());
    PARSERS.put("TPMS_ATTEST certify", Attest::parse);
    SAMPLES.put("TPMS_ATTEST certify", qc.evidence().certify().attest().toByteArray());
    PARSERS.put("TPMT_SIGNATURE rsassa", TpmSignature::parse);
    SAMPLES.put("TPMT_SIGNATURE rsassa", qc.evidence().quote().signature().toByteArray());
    PARSERS.put("PCR blob", PcrBlob::parse);
    SAMPLES.put("PCR blob", qc.evidence().quote().pcrBlob().toByteArray());
    PARSERS.put("TPML_PCR_SELECTION", PcrSelection::parse);
    SAMPLES.put("TPML_PCR_SELECTION", TraceScenarios.SELECTION.marshal());
    PARSERS.put("credential blob", CredentialBlob::parse);
    SAMPLES.put("credential blob", CredentialBlob.make(qc.ek(), qc.ak().publicArea().name(),
        new byte[32], new SecureRandom()).encode());
    PARSERS.put("quote string", (b, l) -> {
      KeylimeQuote q = KeylimeQuote.parse(new String(b, StandardCharsets.ISO_8859_1), l);
      return Arrays.asList(q.parsedAttest(), q.parsedSignature(), q.parsedPcrBlob());
    });
    SAMPLES.put("quote string", qc.evidence().quote().encode().getBytes(StandardCharsets.ISO_8859_1));
    PARSERS.put("agent_data.json", (b, l) -> AgentData.parse(new String(b, StandardCharsets.ISO_8859_1), l).akBlob());
    SAMPLES.put("agent_data.json", AgentDataWriter.toJson(AgentDataWriter.of(qc.ak(), ek)).getBytes(StandardCharsets.ISO_8859_1));
  }

  @Test
  void samplesParseAndRoundTrip() throws Exception {
    for (var e : SAMPLES.entrySet()) {
      assertThat(PARSERS.get(e.getKey()).parse(e.getValue(), 1 << 20)).as(e.getKey()).isNotNull();
    }
    byte[] pub = SAMPLES.get("TPM2B_PUBLIC ak");
    assertThat(TpmPublic.parseTpm2b(pub).marshalTpm2b()).isEqualTo(pub);
    byte[] key = SAMPLES.get("key blob");
    assertThat(KeyBlob.parse(key).marshal()).isEqualTo(key);
    byte[] sig = SAMPLES.get("TPMT_SIGNATURE rsassa");
    assertThat(TpmSignature.parse(sig).marshal()).isEqualTo(sig);
    byte[] blob = SAMPLES.get("PCR blob");
    assertThat(PcrBlob.parse(blob).encode()).isEqualTo(blob);
    String json = new String(SAMPLES.get("agent_data.json"), StandardCharsets.ISO_8859_1);
    assertThat(AgentDataWriter.toJson(AgentData.parse(json, 1 << 20))).isEqualTo(json);
  }

  @Test
  void everyTruncationIsRejected() {
    for (var e : SAMPLES.entrySet()) {
      byte[] s = e.getValue();
      Parser p = PARSERS.get(e.getKey());
      for (int n = 0; n < s.length; n++) {
        byte[] cut = Arrays.copyOf(s, n);
        assertThatThrownBy(() -> p.parse(cut, 1 << 20)).as("%s cut to %d bytes", e.getKey(), n)
            .isInstanceOf(TpmFormatException.class);
      }
    }
  }

  @Test
  void trailingBytesAreRejected() {
    for (var e : SAMPLES.entrySet()) {
      byte[] s = e.getValue();
      byte[] longer = Arrays.copyOf(s, s.length + 1);
      longer[s.length] = e.getKey().equals("quote string") ? (byte) 'A' : (byte) '}';
      if (e.getKey().equals("quote string")) {
        // a base64 character more makes the last part invalid base64 (or a different length)
        longer = (new String(s, StandardCharsets.ISO_8859_1) + ":AAAA").getBytes(StandardCharsets.ISO_8859_1);
      }
      byte[] in = longer;
      assertThatThrownBy(() -> PARSERS.get(e.getKey()).parse(in, 1 << 20)).as(e.getKey())
          .isInstanceOf(TpmFormatException.class);
    }
  }

  @Test
  void inputOverTheLimitIsRejected() {
    for (var e : SAMPLES.entrySet()) {
      byte[] s = e.getValue();
      assertThatThrownBy(() -> PARSERS.get(e.getKey()).parse(s, s.length - 1)).as(e.getKey())
          .isInstanceOf(TpmFormatException.class).hasMessageContaining("limit");
    }
  }

  @Test
  void hugeLengthFieldsAreRejectedWithoutAllocation() {
    // TPM2B sizes of 0xFFFF in tiny inputs
    assertThatThrownBy(() -> TpmPublic.parseTpm2b(new byte[] {(byte) 0xFF, (byte) 0xFF, 0, 1}))
        .isInstanceOf(TpmFormatException.class).hasMessageContaining("truncated");
    // TPML_PCR_SELECTION count 0x7FFFFFFF
    assertThatThrownBy(() -> PcrSelection.parse(new byte[] {0x7F, -1, -1, -1}, 100))
        .isInstanceOf(TpmFormatException.class).hasMessageContaining("count");
    // PCR blob announcing 2^32-1 digest lists
    byte[] blob = SAMPLES.get("PCR blob").clone();
    blob[132] = -1;
    blob[133] = -1;
    blob[134] = -1;
    blob[135] = -1;
    assertThatThrownBy(() -> PcrBlob.parse(blob)).isInstanceOf(TpmFormatException.class);
    // RSA modulus size larger than any RSA key
    byte[] pub = SAMPLES.get("TPMT_PUBLIC app").clone();
    assertThatThrownBy(() -> TpmPublic.parse(Arrays.copyOf(pub, 10_000), 4096))
        .isInstanceOf(TpmFormatException.class);
  }

  @Test
  void randomCorruptionOnlyEverThrowsTpmFormatException() {
    Random r = new Random(1);
    for (var e : SAMPLES.entrySet()) {
      byte[] s = e.getValue();
      Parser p = PARSERS.get(e.getKey());
      for (int i = 0; i < 1500; i++) {
        byte[] m = s.clone();
        int flips = 1 + r.nextInt(4);
        for (int f = 0; f < flips; f++) {
          m[r.nextInt(m.length)] = (byte) r.nextInt(256);
        }
        try {
          p.parse(m, 1 << 20);
        } catch (TpmFormatException expected) {
          // fine
        } catch (RuntimeException ex) {
          throw new AssertionError(e.getKey() + " threw " + ex + " for a corrupted input", ex);
        }
      }
    }
  }
}
