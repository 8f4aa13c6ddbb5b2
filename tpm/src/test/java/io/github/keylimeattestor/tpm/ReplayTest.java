package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.github.keylimeattestor.tpm.testing.TraceScenarios;
import io.github.keylimeattestor.tpm.transport.ReplayTransport;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Fast unit tests over command/response traces captured from swtpm. */
class ReplayTest {
  static TraceScenarios.QuoteCertify qc;

  static ReplayTransport trace(String name) {
    return ReplayTransport.load(Path.of("src/test/resources/traces", name));
  }

  @BeforeAll
  static void replay() throws Exception {
    ReplayTransport t = trace("quote_certify.trace");
    qc = TraceScenarios.quoteCertify(TraceScenarios.tpm(t));
    assertThat(t.finished()).isTrue();
  }

  @Test
  void replayedQuoteAndCertifyVerify() throws Exception {
    TpmVerifier ak = TpmVerifier.forAk(qc.ak().publicArea(), AlgorithmPolicy.STRICT);
    TpmVerifier.VerifiedQuote q = ak.verifyQuote(qc.evidence().quote(), TraceScenarios.NONCE);
    assertThat(q.attest().quote().pcrSelect()).isEqualTo(TraceScenarios.SELECTION);
    assertThat(q.attest().firmwareVersion()).isEqualTo(0x2019102300163636L);
    assertThat(q.signature().sigAlg()).isEqualTo(Alg.RSASSA);
    assertThat(q.pcrs().values()).hasSize(10);
    Attest c = ak.verifyCertify(qc.evidence().certify().attest(),
        qc.evidence().certify().signature(), qc.app().publicArea(), TraceScenarios.QUALIFYING);
    assertThat(c.certify().name().toByteArray()).isEqualTo(qc.app().publicArea().name());
    assertThat(c.resetCount()).isEqualTo(q.attest().resetCount());
  }

  @Test
  void ekCertificateFromTraceCertifiesTheEk() throws Exception {
    X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(qc.ekCert()));
    assertThat(cert.getPublicKey().getEncoded()).isEqualTo(qc.ek().toPublicKey().getEncoded());
  }

  @Test
  void transientEkTraceUsesContextSaveAndVerifies() throws Exception {
    ReplayTransport t = trace("transient_ek.trace");
    KeylimeTpm.Evidence e = TraceScenarios.transientEk(TraceScenarios.tpm(t), qc.ak(), qc.app());
    assertThat(t.finished()).isTrue();
    TpmVerifier ak = TpmVerifier.forAk(qc.ak().publicArea(), AlgorithmPolicy.STRICT);
    ak.verifyQuote(e.quote(), TraceScenarios.NONCE);
    ak.verifyCertify(e.certify().attest(), e.certify().signature(), qc.app().publicArea(),
        TraceScenarios.QUALIFYING);
  }

  @Test
  void replayRejectsADifferentCommand() {
    ReplayTransport t = trace("quote_certify.trace");
    assertThatThrownBy(() -> TraceScenarios.quoteCertify(new Tpm(t, new java.util.Random(7))))
        .isInstanceOf(IOException.class).hasMessageContaining("replay mismatch");
  }

  @Test
  void tamperedQuotePartsAreRejected() throws Exception {
    TpmVerifier ak = TpmVerifier.forAk(qc.ak().publicArea(), AlgorithmPolicy.STRICT);
    KeylimeQuote q = qc.evidence().quote();
    byte[] attest = q.attest().toByteArray();
    attest[attest.length - 1] ^= 1;
    assertThatThrownBy(() -> ak.verifyQuote(new KeylimeQuote(Bytes.copyFrom(attest), q.signature(), q.pcrBlob()),
        TraceScenarios.NONCE)).isInstanceOf(TpmVerificationException.class).hasMessageContaining("signature");

    PcrBlob blob = q.parsedPcrBlob();
    List<Bytes> values = new java.util.ArrayList<>(blob.values());
    byte[] third = values.get(3).toByteArray();
    third[0] ^= 1;
    values.set(3, Bytes.copyFrom(third));
    Bytes changed = Bytes.copyFrom(new PcrBlob(blob.selection(), values).encode());
    assertThatThrownBy(() -> ak.verifyQuote(new KeylimeQuote(q.attest(), q.signature(), changed),
        TraceScenarios.NONCE)).isInstanceOf(TpmVerificationException.class).hasMessageContaining("PCR digest");

    Bytes fewer = Bytes.copyFrom(new PcrBlob(io.github.keylimeattestor.tpm.structure.PcrSelection.of(Alg.SHA256, 16),
        List.of(blob.value(Alg.SHA256, 16))).encode());
    assertThatThrownBy(() -> ak.verifyQuote(new KeylimeQuote(q.attest(), q.signature(), fewer),
        TraceScenarios.NONCE)).isInstanceOf(TpmVerificationException.class).hasMessageContaining("selection");

    // a certify is not a quote, even though its signature verifies
    var cert = qc.evidence().certify();
    assertThatThrownBy(() -> ak.verifyQuote(new KeylimeQuote(cert.attest(), cert.signature(),
        q.pcrBlob()), TraceScenarios.NONCE)).isInstanceOf(TpmVerificationException.class)
        .hasMessageContaining("not a quote");
    // and the quote's signature by the App Key's... wrong key type is just "does not verify"
    TpmSignature sig = TpmSignature.parse(q.signature());
    assertThatThrownBy(() -> sig.verify(qc.app().publicArea().toPublicKey(), ak.scheme(), q.attest().toByteArray()))
        .isInstanceOf(TpmVerificationException.class).hasMessageContaining("does not verify");
  }
}
