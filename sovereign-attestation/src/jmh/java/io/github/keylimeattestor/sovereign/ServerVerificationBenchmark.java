package io.github.keylimeattestor.sovereign;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.sovereign.AppKeyCertificate;
import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.AlgorithmPolicy;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The server plugin's whole verification of one attestation without network, one thread (issue 12:
 * at least 5,000 per second on one core): decode the payload and the SovereignAttestation as they
 * come off the wire, {@link EvidenceVerifier#verify} (nonce, agent UUID, App Key, AK attributes, the
 * quote's signature and PCR digest, the PCR golden value, the TPM clock, the App Key's certification
 * and attributes), the EK certificate against its issuer, and the selectors. The registrar's and
 * verifier's answers are what the network would bring, so they are inputs here. Evidence is made once
 * by a real swtpm (RSA-2048 AK, ECC P-256 App Key, PCR 16 of SHA-256).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = "-XX:ActiveProcessorCount=1")
public class ServerVerificationBenchmark {
  static final KeylimeAgentId ID = new KeylimeAgentId("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10");

  Nonce nonce;
  byte[] payloadBytes;
  byte[] attestationBytes;
  TpmPublic ak;
  PcrPolicy policy;
  X509Certificate ekCert;
  PublicKey ek;
  List<X509Certificate> ekCaBundle;
  EvidenceVerifier verifier;

  @Setup
  public void setup() throws Exception {
    try (Swtpm swtpm = Swtpm.start()) {
      KeylimeTpm tpm = new KeylimeTpm(swtpm.tpm());
      KeyBlob akBlob = tpm.createAk(Templates.akRsa(Alg.SHA256));
      KeyBlob appKey = tpm.createAppKey(Templates.appKeyEccP256());
      nonce = Nonce.mint(new SecureRandom());
      KeylimeTpm.Evidence e = tpm.quoteAndCertify(akBlob, nonce.quoteQualifyingData(), PcrSelection.of(Alg.SHA256, 16),
          appKey, AppKeyBinding.certifyQualifyingData(nonce));
      attestationBytes = SovereignAttestation.newBuilder()
          .setTpmSignedAttestation(e.quote().encode())
          .setAppKeyPublic(ByteString.copyFrom(appKey.publicArea().marshalTpm2b()))
          .setChallengeNonce(nonce.text())
          .setKeylimeAgentUuid(ID.value())
          .setAppKeyCertificate(AppKeyCertificate.newBuilder()
              .setCertifyInfo(ByteString.copyFrom(e.certify().attest()))
              .setSignature(ByteString.copyFrom(e.certify().signature())))
          .build().toByteArray();
      payloadBytes = WireFormat.encodePayload(ID, appKey.publicArea(), "sha256");
      ak = akBlob.publicArea();
      byte[] pcr16 = tpm.readPcrs(PcrSelection.of(Alg.SHA256, 16)).value(Alg.SHA256, 16);
      policy = new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of(16, List.of(pcr16)));
      CertificateFactory x509 = CertificateFactory.getInstance("X.509");
      ekCert = (X509Certificate) x509.generateCertificate(new ByteArrayInputStream(tpm.readEkCertificate()));
      ek = tpm.ekPublic().toPublicKey();
      ekCaBundle = List.of(pem(x509, swtpm.issuerCertificate()),
          pem(x509, swtpm.dir().resolve("localca/swtpm-localca-rootca-cert.pem")));
    }
    verifier = new EvidenceVerifier(new ClockHistory(10_000));
    if (verifyOne().size() < 5) {
      throw new IllegalStateException("expected uuid, ek_hash, app_key, tpm and pcr selectors");
    }
  }

  static X509Certificate pem(CertificateFactory x509, java.nio.file.Path file) throws Exception {
    try (InputStream in = Files.newInputStream(file)) {
      return (X509Certificate) x509.generateCertificate(in);
    }
  }

  @Benchmark
  public List<String> verifyOne() throws Exception {
    WireFormat.Payload payload = WireFormat.decodePayload(payloadBytes);
    SovereignAttestation att = WireFormat.decodeAttestation(attestationBytes);
    VerifiedEvidence ev = verifier.verify(nonce, policy, payload, att, ak, AlgorithmPolicy.STRICT);
    EkCertificate.TpmInfo tpm = EkCertificate.verify(ekCert, ek, ekCaBundle);
    return Selectors.build(ev, Selectors.keyHash(ek), Selectors.keyHash(ev.appKey().toPublicKey()), tpm, Set.of(16),
        "PASS", Map.of(), Set.of());
  }

  /** The same without the EK certificate chain (to see what a per-certificate cache of it would save). */
  @Benchmark
  public List<String> verifyOneWithoutEkCertificate() throws Exception {
    WireFormat.Payload payload = WireFormat.decodePayload(payloadBytes);
    SovereignAttestation att = WireFormat.decodeAttestation(attestationBytes);
    VerifiedEvidence ev = verifier.verify(nonce, policy, payload, att, ak, AlgorithmPolicy.STRICT);
    return Selectors.build(ev, Selectors.keyHash(ek), Selectors.keyHash(ev.appKey().toPublicKey()), null, Set.of(16),
        "PASS", Map.of(), Set.of());
  }
}
