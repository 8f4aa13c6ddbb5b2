package io.github.keylimeattestor.sovereign;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.sovereign.AppKeyCertificate;
import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.AlgorithmPolicy;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.ObjectAttributes;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.command.Auth;
import io.github.keylimeattestor.tpm.command.Certify;
import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.command.Load;
import io.github.keylimeattestor.tpm.command.Quote;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.security.SecureRandom;
import java.util.Map;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every check of DESIGN.md section 2 step 4 that the evidence module owns, on evidence made by a
 * real swtpm: one accepting test, and one test per check that a single wrong field fails it.
 */
class EvidenceVerifierTest {
  static final SecureRandom RANDOM = new SecureRandom();
  static final PcrPolicy POLICY = new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of());
  static Swtpm swtpm;
  static KeylimeTpm tpm;
  static KeyBlob ak;
  static KeyBlob otherAk;
  static KeyBlob sha1Ak;
  static KeyBlob appKey;
  static final KeylimeAgentId ID = new KeylimeAgentId("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10");

  @BeforeAll
  static void tpm() throws Exception {
    swtpm = Swtpm.start();
    tpm = new KeylimeTpm(swtpm.tpm());
    ak = new KeylimeAgentTpm(tpm).createAk(Templates.akRsa(Alg.SHA256));
    otherAk = new KeylimeAgentTpm(tpm).createAk(Templates.akRsa(Alg.SHA256));
    sha1Ak = new KeylimeAgentTpm(tpm).createAk(Templates.akRsa(Alg.SHA1));
    appKey = tpm.createAppKey(Templates.appKeyEccP256());
  }

  @AfterAll
  static void stop() {
    swtpm.close();
  }

  /** Evidence as the agent plugin makes it, for {@code nonce}. */
  static SovereignAttestation evidence(KeyBlob signer, KeyBlob key, Nonce quoteNonce, Nonce certifyNonce, int... pcrs)
      throws Exception {
    KeylimeTpm.Evidence e = tpm.quoteAndCertify(signer, quoteNonce.quoteQualifyingData(),
        PcrSelection.of(Alg.SHA256, pcrs.length == 0 ? new int[] {16} : pcrs), key,
        AppKeyBinding.certifyQualifyingData(certifyNonce));
    return SovereignAttestation.newBuilder()
        .setTpmSignedAttestation(e.quote().encode())
        .setAppKeyPublic(ByteString.copyFrom(key.publicArea().marshalTpm2b()))
        .setChallengeNonce(quoteNonce.text())
        .setKeylimeAgentUuid(ID.value())
        .setAppKeyCertificate(AppKeyCertificate.newBuilder()
            .setCertifyInfo(ByteString.copyFrom(e.certify().attest().toByteArray()))
            .setSignature(ByteString.copyFrom(e.certify().signature().toByteArray())))
        .build();
  }

  static WireFormat.Payload payload(KeyBlob key) throws Exception {
    return payload(key, "sha256");
  }

  /** The payload of an agent whose AK signs with {@code akHash} (agent_data.json's ak_hash_alg). */
  static WireFormat.Payload payload(KeyBlob key, String akHash) throws Exception {
    return WireFormat.decodePayload(WireFormat.encodePayload(ID, key.publicArea(), akHash));
  }

  static void rejected(String check, ThrowingCallable call) {
    assertThatThrownBy(call).isInstanceOfSatisfying(EvidenceException.class, e -> {
      assertThat(e.check()).isEqualTo(check);
      assertThat(e.kind()).isEqualTo(EvidenceException.Kind.REJECTED);
    });
  }

  @Test
  void acceptsEvidenceForTheMintedNonceAndReportsWhatItVerified() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    VerifiedEvidence v = new EvidenceVerifier(new ClockHistory(10))
        .verify(n, POLICY, payload(appKey), evidence(ak, appKey, n, n), ak.publicArea());
    assertThat(v.agentId()).isEqualTo(ID);
    assertThat(v.quote().extraData().toByteArray()).isEqualTo(n.quoteQualifyingData());
    assertThat(v.appKeyCertification().certify().name().toByteArray()).isEqualTo(appKey.publicArea().name());
    assertThat(v.pcrs().value(Alg.SHA256, 16).size()).isEqualTo(32);
  }

  @Test
  void nonceMustBeTheOneMintedOnThisStream() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation old = evidence(ak, appKey, n, n);
    rejected("nonce", () -> new EvidenceVerifier(new ClockHistory(10))
        .verify(Nonce.mint(RANDOM), POLICY, payload(appKey), old, ak.publicArea()));
  }

  @Test
  void quoteMustBeOverTheNonce() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation forged = evidence(ak, appKey, Nonce.mint(RANDOM), n).toBuilder().setChallengeNonce(n.text()).build();
    rejected("quote", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey), forged, ak.publicArea()));
  }

  @Test
  void quoteMustBeSignedByTheRegistrarsAk() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation byOther = evidence(otherAk, appKey, n, n);
    rejected("quote", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey), byOther, ak.publicArea()));
  }

  @Test
  void akMustBeARestrictedSigningKey() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, appKey, n, n);
    rejected("ak_attributes", () -> new EvidenceVerifier(new ClockHistory(10))
        .verify(n, POLICY, payload(appKey), e, appKey.publicArea()));
  }

  @Test
  void quotedSelectionMustCoverThePolicy() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, appKey, n, n, 16);
    PcrPolicy wants = new PcrPolicy(Alg.SHA256, new int[] {0, 16}, Map.of());
    rejected("pcr_selection", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, wants, payload(appKey), e, ak.publicArea()));
  }

  @Test
  void expectedPcrValuesMustMatch() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, appKey, n, n, 0, 16);
    PcrPolicy zero = new PcrPolicy(Alg.SHA256, new int[] {0, 16}, Map.of(0, java.util.List.of(new byte[32])));
    new EvidenceVerifier(new ClockHistory(10)).verify(n, zero, payload(appKey), e, ak.publicArea());
    Nonce n2 = Nonce.mint(RANDOM);
    SovereignAttestation e2 = evidence(ak, appKey, n2, n2, 0, 16);
    byte[] ones = new byte[32];
    java.util.Arrays.fill(ones, (byte) 1);
    PcrPolicy wrong = new PcrPolicy(Alg.SHA256, new int[] {0, 16}, Map.of(0, java.util.List.of(ones)));
    rejected("pcr_value", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n2, wrong, payload(appKey), e2, ak.publicArea()));
  }

  @Test
  void aPcrMayHoldAnyOfSeveralGoldenValues() throws Exception {
    byte[] ones = new byte[32];
    java.util.Arrays.fill(ones, (byte) 1);
    byte[] twos = new byte[32];
    java.util.Arrays.fill(twos, (byte) 2);
    EvidenceVerifier v = new EvidenceVerifier(new ClockHistory(10));
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, appKey, n, n, 0, 16);
    PcrPolicy eitherFirmware = new PcrPolicy(Alg.SHA256, new int[] {0, 16},
        Map.of(0, java.util.List.of(ones, new byte[32])));
    v.verify(n, eitherFirmware, payload(appKey), e, ak.publicArea());
    Nonce n2 = Nonce.mint(RANDOM);
    SovereignAttestation e2 = evidence(ak, appKey, n2, n2, 0, 16);
    PcrPolicy neither = new PcrPolicy(Alg.SHA256, new int[] {0, 16}, Map.of(0, java.util.List.of(ones, twos)));
    assertThatThrownBy(() -> v.verify(n2, neither, payload(appKey), e2, ak.publicArea()))
        .isInstanceOf(EvidenceException.class)
        .hasMessageContaining("the policy allows one of " + "01".repeat(32) + ", " + "02".repeat(32));
  }

  @Test
  void tpmClockMustNotGoBackwardsForAnAk() throws Exception {
    Nonce older = Nonce.mint(RANDOM);
    SovereignAttestation first = evidence(ak, appKey, older, older);
    Thread.sleep(20);
    Nonce newer = Nonce.mint(RANDOM);
    SovereignAttestation second = evidence(ak, appKey, newer, newer);
    EvidenceVerifier v = new EvidenceVerifier(new ClockHistory(10));
    v.verify(newer, POLICY, payload(appKey), second, ak.publicArea());
    rejected("tpm_clock", () -> v.verify(older, POLICY, payload(appKey), first, ak.publicArea()));
  }

  @Test
  void twoQuotesOfOneAkCheckedTogetherCannotBothPassWhenOneClockIsBehind() throws Exception {
    // as two copies of one TPM state answering at once: both check against the same history first
    Nonce older = Nonce.mint(RANDOM);
    io.github.keylimeattestor.tpm.structure.Attest behind = attestOf(evidence(ak, appKey, older, older));
    Thread.sleep(20);
    Nonce newer = Nonce.mint(RANDOM);
    io.github.keylimeattestor.tpm.structure.Attest ahead = attestOf(evidence(ak, appKey, newer, newer));
    ClockHistory clocks = new ClockHistory(10);
    Bytes akName = Bytes.copyFrom(ak.publicArea().name());
    clocks.check(akName, behind);
    clocks.check(akName, ahead);
    clocks.record(akName, ahead);
    rejected("tpm_clock", () -> clocks.record(akName, behind));
    clocks.record(akName, ahead); // the same clock again is not backwards
  }

  static io.github.keylimeattestor.tpm.structure.Attest attestOf(SovereignAttestation e) throws Exception {
    return io.github.keylimeattestor.tpm.structure.Attest.parse(
        io.github.keylimeattestor.tpm.structure.KeylimeQuote.parse(e.getTpmSignedAttestation()).attest());
  }

  @Test
  void appKeyCertificationMustBeBoundToTheNonce() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, appKey, n, Nonce.mint(RANDOM));
    rejected("app_key_certify", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey), e, ak.publicArea()));
  }

  @Test
  void appKeyCertificationMustNameThePayloadsAppKey() throws Exception {
    KeyBlob other = tpm.createAppKey(Templates.appKeyEccP256());
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation certifiesOther = evidence(ak, other, n, n).toBuilder()
        .setAppKeyPublic(ByteString.copyFrom(appKey.publicArea().marshalTpm2b())).build();
    rejected("app_key_certify", () -> new EvidenceVerifier(new ClockHistory(10))
        .verify(n, POLICY, payload(appKey), certifiesOther, ak.publicArea()));
  }

  @Test
  void appKeyMustBeTpmBoundAndSigningOnly() throws Exception {
    TpmPublic t = Templates.appKeyRsa2048();
    TpmPublic decrypting = TpmPublic.rsa(Alg.SHA256, t.objectAttributes() | ObjectAttributes.DECRYPT, new byte[0],
        TpmPublic.SymDef.NULL, TpmPublic.Scheme.NULL, 2048, 0, new byte[0]);
    KeyBlob bad = tpm.createAppKey(decrypting);
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, bad, n, n);
    rejected("app_key_attributes", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(bad), e, ak.publicArea()));
  }

  /**
   * A key certified as the top of a hierarchy (qualifiedName = nameAlg || H(hierarchy || Name): a
   * primary, or a public area loaded from outside the TPM) is refused; the App Key certified by swtpm
   * in every other test here sits under the SRK and passes.
   */
  @Test
  void aKeyAtTheTopOfAHierarchyIsNoTpmMadeKey() throws Exception {
    TpmPublic pub = appKey.publicArea();
    byte[] name = pub.name();
    for (int h : new int[] {io.github.keylimeattestor.tpm.Handles.RH_OWNER, io.github.keylimeattestor.tpm.Handles.RH_NULL,
        io.github.keylimeattestor.tpm.Handles.RH_ENDORSEMENT, io.github.keylimeattestor.tpm.Handles.RH_PLATFORM}) {
      byte[] top = new byte[34];
      top[0] = name[0];
      top[1] = name[1];
      System.arraycopy(io.github.keylimeattestor.tpm.Sha256.digest(java.nio.ByteBuffer.allocate(4).putInt(h).array(), name),
          0, top, 2, 32);
      var info = new io.github.keylimeattestor.tpm.structure.Attest.CertifyInfo(
          io.github.keylimeattestor.tpm.Bytes.copyFrom(name), io.github.keylimeattestor.tpm.Bytes.copyFrom(top));
      rejected("app_key_parent", () -> AppKeyBinding.checkNotTopOfAHierarchy(info, pub, "app_key"));
    }
    Nonce n = Nonce.mint(RANDOM);
    var real = new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey), evidence(ak, appKey, n, n),
        ak.publicArea()).appKeyCertification().certify();
    org.assertj.core.api.Assertions.assertThatCode(() -> AppKeyBinding.checkNotTopOfAHierarchy(real, pub, "app_key"))
        .doesNotThrowAnyException();
  }

  @Test
  void attestationMustNameThePayloadsAgentAndAppKey() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, appKey, n, n);
    SovereignAttestation otherUuid = e.toBuilder().setKeylimeAgentUuid("1b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10").build();
    rejected("agent_uuid", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey), otherUuid, ak.publicArea()));
    KeyBlob other = tpm.createAppKey(Templates.appKeyEccP256());
    rejected("app_key_public", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(other), e, ak.publicArea()));
  }

  @Test
  void malformedQuoteIsInvalidArgumentNotPermissionDenied() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, appKey, n, n).toBuilder().setTpmSignedAttestation("rAAAA:BBBB").build();
    assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey), e, ak.publicArea()))
        .isInstanceOfSatisfying(EvidenceException.class, x -> assertThat(x.kind()).isEqualTo(EvidenceException.Kind.MALFORMED));
  }

  @Test
  void dataTheAkSignedButNoTpmGeneratedIsRejectedNotMalformed() throws Exception {
    // Anyone who can use the node's TPM can have its AK sign data not starting with TPM_GENERATED
    // (TPM2_Hash, TPM2_Sign): here the quote's own bytes with one bit of the magic changed.
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation real = evidence(ak, appKey, n, n);
    KeylimeQuote quote = KeylimeQuote.parse(real.getTpmSignedAttestation());
    byte[] attest = quote.attest().toByteArray();
    attest[3] ^= 1; // 0xff544347 -> 0xff544346
    TpmSignature signed = new KeylimeAgentTpm(tpm).signWithAk(ak, attest);
    SovereignAttestation forged = real.toBuilder().setTpmSignedAttestation(
        new KeylimeQuote(Bytes.copyFrom(attest), Bytes.copyFrom(signed.marshal()), quote.pcrBlob()).encode()).build();
    assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey), forged,
        ak.publicArea())).isInstanceOfSatisfying(EvidenceException.class, e -> {
          assertThat(e.check()).isEqualTo("quote");
          assertThat(e.kind()).isEqualTo(EvidenceException.Kind.REJECTED);
          assertThat(e.getMessage()).contains("not generated by a TPM");
        });
  }

  @Test
  void aChangedMagicWithTheRealSignatureIsRejectedNotMalformed() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation real = evidence(ak, appKey, n, n);
    byte[] certifyInfo = real.getAppKeyCertificate().getCertifyInfo().toByteArray();
    certifyInfo[0] = 0;
    SovereignAttestation changed = real.toBuilder().setAppKeyCertificate(real.getAppKeyCertificate().toBuilder()
        .setCertifyInfo(ByteString.copyFrom(certifyInfo))).build();
    rejected("app_key_certify", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey),
        changed, ak.publicArea()));
  }

  /** The same RSA key, but a public area (as the registrar would hold it) that declares another hash. */
  static TpmPublic declaring(TpmPublic ak, int hashAlg) {
    return TpmPublic.rsa(ak.nameAlg(), ak.objectAttributes(), ak.authPolicy().toByteArray(), ak.symmetric(),
        TpmPublic.Scheme.of(Alg.RSASSA, hashAlg), ak.keyBits(), ak.exponent(), ak.rsaModulus().toByteArray());
  }

  @Test
  void aSha1AkIsRefusedUnlessAllowSha1() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(sha1Ak, appKey, n, n);
    assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey, "sha1"), e,
        sha1Ak.publicArea())).isInstanceOfSatisfying(EvidenceException.class, x -> {
          assertThat(x.check()).isEqualTo("ak_scheme");
          assertThat(x.kind()).isEqualTo(EvidenceException.Kind.REJECTED);
          assertThat(x.getMessage()).contains("SHA-1").contains("allow_sha1 = true");
        });
    VerifiedEvidence v = new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey, "sha1"), e,
        sha1Ak.publicArea(), AlgorithmPolicy.ALLOW_SHA1);
    assertThat(v.appKeyCertification().certify().name().toByteArray()).isEqualTo(appKey.publicArea().name());
  }

  @Test
  void sha256EvidenceIsRefusedWhenTheRegistrarsAkDeclaresSha384() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, appKey, n, n);
    rejected("quote", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey, "sha384"), e,
        declaring(ak.publicArea(), Alg.SHA384)));
  }

  @Test
  void aSignatureDeclaringAWeakerHashThanTheAksIsRefused() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(sha1Ak, appKey, n, n);
    assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey), e,
        declaring(sha1Ak.publicArea(), Alg.SHA256), AlgorithmPolicy.ALLOW_SHA1))
        .isInstanceOfSatisfying(EvidenceException.class, x -> {
          assertThat(x.check()).isEqualTo("quote");
          assertThat(x.getMessage()).contains("declares RSASSA-SHA1 but the attestation key signs with RSASSA-SHA256");
        });
  }

  @Test
  void appKeyCertificationMustBeSignedByTheQuotesAk() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation quoteByAk = evidence(ak, appKey, n, n);
    SovereignAttestation certByOther = evidence(otherAk, appKey, n, n);
    SovereignAttestation mixed = quoteByAk.toBuilder().setAppKeyCertificate(certByOther.getAppKeyCertificate()).build();
    rejected("app_key_certify", () -> new EvidenceVerifier(new ClockHistory(10))
        .verify(n, POLICY, payload(appKey), mixed, ak.publicArea()));
  }

  @Test
  void aPayloadNamingAnotherHashThanTheRegistrarsAkIsRejected() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation e = evidence(ak, appKey, n, n);
    assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey, "sha384"), e,
        ak.publicArea())).isInstanceOfSatisfying(EvidenceException.class, x -> {
          assertThat(x.check()).isEqualTo("hash_alg");
          assertThat(x.kind()).isEqualTo(EvidenceException.Kind.REJECTED);
          assertThat(x.getMessage()).contains("signs with sha384 (ak_hash_alg in its agent_data.json)")
              .contains("registrar's AK for it signs with RSASSA-SHA256").contains("agent_data_path");
        });
    new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey, "sha256"), e, ak.publicArea());
  }

  /** The App Key's quote and certification, plus each key of {@code svidKeys} certified by the AK for {@code n}. */
  static SovereignAttestation withSvidKeys(Nonce n, Map<String, KeyBlob> svidKeys) throws Exception {
    java.util.List<KeylimeTpm.ToCertify> toCertify = new java.util.ArrayList<>();
    toCertify.add(new KeylimeTpm.ToCertify(appKey, AppKeyBinding.certifyQualifyingData(n)));
    svidKeys.forEach((id, blob) -> toCertify.add(new KeylimeTpm.ToCertify(blob, SvidKeyBinding.certifyQualifyingData(n, id))));
    KeylimeTpm.MultiEvidence ev = tpm.quoteAndCertifyAll(ak, n.quoteQualifyingData(), PcrSelection.of(Alg.SHA256, 16),
        toCertify);
    Map<String, WireFormat.Certification> certified = new java.util.LinkedHashMap<>();
    int i = 1;
    for (Map.Entry<String, KeyBlob> k : svidKeys.entrySet()) {
      var c = ev.certifications().get(i++);
      certified.put(k.getKey(), new WireFormat.Certification(k.getValue().publicArea(), c.attest(), c.signature()));
    }
    var c0 = ev.certifications().get(0);
    return SovereignAttestation.parseFrom(WireFormat.encodeAttestation(ID, n, ev.quote().encode(),
        new WireFormat.Certification(appKey.publicArea(), c0.attest(), c0.signature()), certified));
  }

  /**
   * What the TPM-bound SVID rests on: each SVID key the AK certified (correctly, for this nonce and key
   * ID) must also be a key made in this TPM and kept there, sign only; and its ID safe to record.
   */
  @Test
  void svidKeysMustBeTpmMadeSigningKeysUnderSafeIds() throws Exception {
    Nonce n = Nonce.mint(RANDOM);
    KeyBlob svid = tpm.createAppKey(Templates.appKeyEccP256());
    VerifiedEvidence ok = new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey),
        withSvidKeys(n, Map.of("agent-svid-A", svid)), ak.publicArea());
    assertThat(ok.svidKeys()).extracting(VerifiedEvidence.CertifiedSvidKey::keyId).containsExactly("agent-svid-A");

    int duplicable = Templates.APP_KEY_ATTRIBUTES & ~(ObjectAttributes.FIXED_TPM | ObjectAttributes.FIXED_PARENT);
    KeyBlob movable = tpm.createAppKey(TpmPublic.ecc(Alg.SHA256, duplicable, new byte[0], TpmPublic.SymDef.NULL,
        TpmPublic.Scheme.NULL, Alg.ECC_NIST_P256, TpmPublic.Scheme.NULL, new byte[0], new byte[0]));
    Nonce m = Nonce.mint(RANDOM);
    SovereignAttestation withMovable = withSvidKeys(m, Map.of("agent-svid-B", movable));
    assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(10)).verify(m, POLICY, payload(appKey), withMovable,
        ak.publicArea())).isInstanceOfSatisfying(EvidenceException.class, e -> {
          assertThat(e.check()).isEqualTo("svid_key_attributes");
          assertThat(e.kind()).isEqualTo(EvidenceException.Kind.REJECTED);
          assertThat(e.getMessage()).contains("SVID key agent-svid-B").contains("fixedTPM");
        });

    Nonce k = Nonce.mint(RANDOM);
    SovereignAttestation newlineId = withSvidKeys(k, Map.of("agent-svid\nA", svid));
    assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(10)).verify(k, POLICY, payload(appKey), newlineId,
        ak.publicArea())).isInstanceOfSatisfying(EvidenceException.class, e -> {
          assertThat(e.check()).isEqualTo("svid_keys");
          assertThat(e.kind()).isEqualTo(EvidenceException.Kind.MALFORMED);
          assertThat(e.getMessage()).doesNotContain("\n");
        });
  }

  /**
   * An SVID key's certification is bound to this nonce and this key ID: a genuine certification from
   * an earlier attestation, or of the same key under another ID, is refused.
   */
  @Test
  void anSvidKeyCertificationIsBoundToTheNonceAndTheKeyId() throws Exception {
    KeyBlob svid = tpm.createAppKey(Templates.appKeyEccP256());
    Nonce earlier = Nonce.mint(RANDOM);
    Nonce now = Nonce.mint(RANDOM);
    SovereignAttestation old = withSvidKeys(earlier, Map.of("agent-svid-A", svid));
    SovereignAttestation fresh = withSvidKeys(now, Map.of("agent-svid-A", svid));
    new EvidenceVerifier(new ClockHistory(10)).verify(now, POLICY, payload(appKey), fresh, ak.publicArea());

    // this attestation's quote and App Key, the SVID key's certification of the earlier one
    SovereignAttestation replayed = fresh.toBuilder().clearSvidKeys().addAllSvidKeys(old.getSvidKeysList()).build();
    rejected("svid_key_certify", () -> new EvidenceVerifier(new ClockHistory(10)).verify(now, POLICY, payload(appKey),
        replayed, ak.publicArea()));
    // the same certification presented under another key ID
    Nonce third = Nonce.mint(RANDOM);
    SovereignAttestation a = withSvidKeys(third, Map.of("agent-svid-A", svid));
    SovereignAttestation renamed = a.toBuilder().setSvidKeys(0, a.getSvidKeys(0).toBuilder().setKeyId("agent-svid-B"))
        .build();
    rejected("svid_key_certify", () -> new EvidenceVerifier(new ClockHistory(10)).verify(third, POLICY, payload(appKey),
        renamed, ak.publicArea()));
  }

  /**
   * An SVID key at the top of a hierarchy (a primary: its seed, not its private key, is what the TPM
   * keeps; the same key is made again from the template anywhere) is refused, on a real certification
   * of a primary by swtpm. The AK here is a primary too, standing in for the registrar's.
   */
  @Test
  void anSvidKeyAtTheTopOfAHierarchyIsRefused() throws Exception {
    Tpm t = tpm.tpm();
    int hierarchyOwner = Handles.RH_OWNER;
    var srk = t.execute(CreatePrimary.of(hierarchyOwner, Templates.srkEccP256()));
    int app = t.execute(new Load(srk.handle(),
        Auth.empty(), appKey)).handle();
    t.execute(new FlushContext(srk.handle()));
    var primaryAk = t.execute(CreatePrimary.of(
        Handles.RH_ENDORSEMENT, Templates.akRsa(Alg.SHA256)));
    var primarySvid = t.execute(CreatePrimary.of(hierarchyOwner,
        Templates.appKeyEccP256()));
    Nonce n = Nonce.mint(RANDOM);
    SovereignAttestation att;
    try {
      var none = Auth.empty();
      TpmPublic.Scheme scheme = TpmPublic.Scheme.NULL; // the AK template names its scheme
      PcrSelection sel = PcrSelection.of(Alg.SHA256, 16);
      var q = t.execute(new Quote(primaryAk.handle(), none,
          n.quoteQualifyingData(), scheme, sel));
      KeylimeQuote quote = new KeylimeQuote(q.attest(), q.signature(), Bytes.copyFrom(tpm.readPcrs(sel).encode()));
      var appCert = t.execute(new Certify(app, none, primaryAk.handle(), none,
          AppKeyBinding.certifyQualifyingData(n), scheme));
      var svidCert = t.execute(new Certify(primarySvid.handle(), none,
          primaryAk.handle(), none, SvidKeyBinding.certifyQualifyingData(n, "agent-svid-A"), scheme));
      att = SovereignAttestation.parseFrom(WireFormat.encodeAttestation(ID, n, quote.encode(),
          new WireFormat.Certification(appKey.publicArea(), appCert.attest(), appCert.signature()),
          Map.of("agent-svid-A", new WireFormat.Certification(primarySvid.outPublic(), svidCert.attest(),
              svidCert.signature()))));
    } finally {
      for (int h : new int[] {app, primaryAk.handle(), primarySvid.handle()}) {
        t.execute(new FlushContext(h));
      }
    }
    SovereignAttestation evidence = att;
    rejected("svid_key_parent", () -> new EvidenceVerifier(new ClockHistory(10)).verify(n, POLICY, payload(appKey),
        evidence, primaryAk.outPublic()));
  }
}
