package io.github.keylimeattestor.tpm.command;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The inScheme of TPM2_Quote, TPM2_Certify and TPM2_Sign is a TPMT_SIG_SCHEME (TPM 2.0 Part 2,
 * 11.2.1.5): the selector, nothing more for TPM_ALG_NULL, the hash for RSASSA/RSAPSS/ECDSA, and for
 * ECDAA the hash and the commit count. Real RSASSA/NULL bytes are also replayed from swtpm traces
 * (QuoteCertifyTest); ECDAA needs TPM2_Commit, which nothing here runs, so its bytes are the spec's.
 */
class SigSchemeMarshalTest {
  private static final byte[] NONCE = {1, 2, 3, 4};

  private static String hex(TpmCommand<?> c) {
    TpmWriter w = new TpmWriter();
    c.parameters(w);
    return HexFormat.of().formatHex(w.toByteArray());
  }

  private static String quote(Scheme s) {
    return hex(new Quote(0x81010001, Auth.empty(), NONCE, s, PcrSelection.of(Alg.SHA256, 0)));
  }

  @Test
  void quoteWritesEachSchemeAsTpmtSigScheme() {
    String nonce = "000401020304";
    String selection = "00000001000b03010000";
    assertThat(quote(Scheme.NULL)).isEqualTo(nonce + "0010" + selection);
    assertThat(quote(Scheme.of(Alg.RSASSA, Alg.SHA256))).isEqualTo(nonce + "0014000b" + selection);
    assertThat(quote(new Scheme(Alg.ECDAA, Alg.SHA256, 7))).isEqualTo(nonce + "001a000b0007" + selection);
  }

  @Test
  void certifyAndSignWriteTheSameSchemeBytesAsQuote() {
    Scheme ecdaa = new Scheme(Alg.ECDAA, Alg.SHA256, 7);
    assertThat(hex(new Certify(0x80000001, Auth.empty(), 0x81010001, Auth.empty(), NONCE, ecdaa)))
        .isEqualTo("000401020304" + "001a000b0007");
    assertThat(hex(new Sign(0x80000001, Auth.empty(), NONCE, Scheme.of(Alg.RSASSA, Alg.SHA256))))
        .isEqualTo("000401020304" + "0014000b" + "8024" + "40000007" + "0000");
  }
}
