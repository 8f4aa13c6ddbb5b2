package io.github.keylimeattestor.tpm;

import io.github.keylimeattestor.tpm.command.AttestResponse;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.testing.TraceScenarios;
import io.github.keylimeattestor.tpm.transport.ReplayTransport;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Pure-Java verification cost of one quote (RSA-2048 RSASSA AK, 10 PCRs) plus one certify (ECC
 * App Key), as the server plugin does it: from the Keylime quote string and the AK's TPM2B_PUBLIC
 * (registrar's aik_tpm), with all parsing included. Inputs are real swtpm output from the
 * captured trace.
 */
@State(Scope.Benchmark)
@BenchmarkMode({Mode.AverageTime, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class VerifyBenchmark {
  String quote;
  byte[] akTpm2b;
  byte[] appTpm2b;
  byte[] certAttest;
  byte[] certSig;

  @Setup
  public void setup() throws Exception {
    TraceScenarios.QuoteCertify qc = TraceScenarios.quoteCertify(TraceScenarios.tpm(
        ReplayTransport.load(Path.of("src/test/resources/traces/quote_certify.trace"))));
    quote = qc.evidence().quote().encode();
    akTpm2b = qc.ak().publicArea().marshalTpm2b();
    appTpm2b = qc.app().publicArea().marshalTpm2b();
    AttestResponse c = qc.evidence().certify();
    certAttest = c.attest();
    certSig = c.signature();
  }

  @Benchmark
  public Object verifyQuoteAndCertify() throws Exception {
    TpmVerifier ak = TpmVerifier.forAk(TpmPublic.parseTpm2b(akTpm2b), AlgorithmPolicy.STRICT);
    TpmVerifier.VerifiedQuote q = ak.verifyQuote(KeylimeQuote.parse(quote), TraceScenarios.NONCE);
    return ak.verifyCertify(certAttest, certSig, TpmPublic.parseTpm2b(appTpm2b),
        TraceScenarios.QUALIFYING) != null ? q : null;
  }

  @Benchmark
  public Object verifyQuoteOnly() throws Exception {
    return TpmVerifier.forAk(TpmPublic.parseTpm2b(akTpm2b), AlgorithmPolicy.STRICT)
        .verifyQuote(KeylimeQuote.parse(quote), TraceScenarios.NONCE);
  }
}
