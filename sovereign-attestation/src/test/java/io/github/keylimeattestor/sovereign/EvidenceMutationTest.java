package io.github.keylimeattestor.sovereign;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.sovereign.AppKeyCertificate;
import io.github.keylimeattestor.proto.sovereign.AttestationPayload;
import io.github.keylimeattestor.proto.sovereign.CertifiedKey;
import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.AlgorithmPolicy;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fail-closed under corruption: real evidence from swtpm (a quote, the App Key's and an SVID key's
 * certifications, for an RSA and an ECC AK), one field or the whole message corrupted at a time,
 * then decoded and verified as the server does. Every corrupted answer must be refused with an
 * {@link EvidenceException} (what the server turns into InvalidArgument or PermissionDenied), never
 * accepted with claims the TPM did not sign and never another throwable (which SPIRE would see as
 * Internal or Unknown); see {@link #sameClaims} for what a corrupted answer may still verify to.
 *
 * <p>Deterministic: the seed is fixed unless {@code -Dmutation.seed=} is given, and a failure
 * prints the seed, the field and the corruption.
 */
class EvidenceMutationTest {
  static final KeylimeAgentId ID = new KeylimeAgentId("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10");
  static final int ROUNDS_PER_FIELD = Integer.getInteger("mutation.rounds", 400);
  static final long SEED = Long.getLong("mutation.seed", 20261202L);
  static Swtpm swtpm;
  static Map<String, Case> cases = new LinkedHashMap<>();

  /** One node's evidence for {@code nonce}, as the agent plugin sends it. */
  record Case(Nonce nonce, TpmPublic ak, PcrPolicy policy, byte[] payload, SovereignAttestation attestation,
      VerifiedEvidence verified) {}

  @BeforeAll
  static void evidence() throws Exception {
    swtpm = Swtpm.start();
    KeylimeTpm tpm = new KeylimeTpm(swtpm.tpm());
    cases.put("rsa-ak", make(tpm, Templates.akRsa(Alg.SHA256), Templates.appKeyEccP256(), Templates.appKeyRsa2048()));
    cases.put("ecc-ak", make(tpm, Templates.akEccP256(Alg.SHA256), Templates.appKeyRsa2048(), Templates.appKeyEccP256()));
  }

  @AfterAll
  static void stop() {
    swtpm.close();
  }

  static Case make(KeylimeTpm tpm, TpmPublic akTemplate, TpmPublic appKeyTemplate, TpmPublic svidTemplate)
      throws Exception {
    KeyBlob ak = new KeylimeAgentTpm(tpm).createAk(akTemplate);
    KeyBlob appKey = tpm.createAppKey(appKeyTemplate);
    KeyBlob svidKey = tpm.createAppKey(svidTemplate);
    Nonce nonce = Nonce.mint(new SecureRandom());
    PcrSelection pcrs = PcrSelection.of(Alg.SHA256, 16);
    KeylimeTpm.MultiEvidence ev = tpm.quoteAndCertifyAll(ak, nonce.quoteQualifyingData(), pcrs, List.of(
        new KeylimeTpm.ToCertify(appKey, AppKeyBinding.certifyQualifyingData(nonce)),
        new KeylimeTpm.ToCertify(svidKey, SvidKeyBinding.certifyQualifyingData(nonce, "agent-svid-A"))));
    byte[] attestation = WireFormat.encodeAttestation(ID, nonce, ev.quote().encode(),
        new WireFormat.Certification(appKey.publicArea(), ev.certifications().get(0).attest(),
            ev.certifications().get(0).signature()),
        Map.of("agent-svid-A", new WireFormat.Certification(svidKey.publicArea(), ev.certifications().get(1).attest(),
            ev.certifications().get(1).signature())));
    Bytes pcr16 = tpm.readPcrs(pcrs).value(Alg.SHA256, 16);
    PcrPolicy policy = new PcrPolicy(Alg.SHA256, List.of(16), Map.of(16, List.of(pcr16)));
    byte[] payload = WireFormat.encodePayload(ID, appKey.publicArea(), "sha256");
    Case c = new Case(nonce, ak.publicArea(), policy, payload, SovereignAttestation.parseFrom(attestation), null);
    VerifiedEvidence verified = verify(c, payload, attestation);
    assertThat(verified.svidKeys()).as("the uncorrupted evidence verifies, with its SVID key").hasSize(1);
    return new Case(c.nonce(), c.ak(), c.policy(), payload, c.attestation(), verified);
  }

  static VerifiedEvidence verify(Case c, byte[] payload, byte[] attestation) throws EvidenceException {
    WireFormat.Payload p = WireFormat.decodePayload(payload);
    SovereignAttestation att = WireFormat.decodeAttestation(attestation);
    return new EvidenceVerifier(new ClockHistory(16)).verify(c.nonce(), c.policy(), p, att, c.ak(),
        AlgorithmPolicy.STRICT);
  }

  /** A field of the evidence: how to corrupt it, given a corruption of bytes. */
  interface Field {
    /** The corrupted payload and attestation, or null if the corruption left the field as it was. */
    byte[][] corrupt(Case c, UnaryOperator<byte[]> corruption) throws Exception;
  }

  static Stream<Object[]> fields() {
    Map<String, Field> f = new LinkedHashMap<>();
    f.put("payload message", (c, m) -> pair(m.apply(c.payload()), c.attestation().toByteArray()));
    f.put("attestation message", (c, m) -> pair(c.payload(), m.apply(c.attestation().toByteArray())));
    f.put("quote string", (c, m) -> attestation(c, a -> a.setTpmSignedAttestation(
        new String(m.apply(a.getTpmSignedAttestation().getBytes(StandardCharsets.ISO_8859_1)), StandardCharsets.ISO_8859_1))));
    f.put("quote TPMS_ATTEST", (c, m) -> quote(c, q -> new KeylimeQuote(bytes(m, q.attest()), q.signature(), q.pcrBlob())));
    f.put("quote TPMT_SIGNATURE", (c, m) -> quote(c, q -> new KeylimeQuote(q.attest(), bytes(m, q.signature()), q.pcrBlob())));
    f.put("quote PCR blob", (c, m) -> quote(c, q -> new KeylimeQuote(q.attest(), q.signature(), bytes(m, q.pcrBlob()))));
    f.put("App Key public area, in both messages", (c, m) -> {
      byte[] corrupted = m.apply(c.attestation().getAppKeyPublic().toByteArray());
      byte[] payload = AttestationPayload.parseFrom(c.payload()).toBuilder()
          .setAppKeyPublic(ByteString.copyFrom(corrupted)).build().toByteArray();
      byte[][] att = attestation(c, a -> a.setAppKeyPublic(ByteString.copyFrom(corrupted)));
      return att == null ? null : pair(payload, att[1]);
    });
    f.put("App Key certify_info", (c, m) -> attestation(c, a -> a.setAppKeyCertificate(
        a.getAppKeyCertificate().toBuilder().setCertifyInfo(bytes(m, a.getAppKeyCertificate().getCertifyInfo())))));
    f.put("App Key certification signature", (c, m) -> attestation(c, a -> a.setAppKeyCertificate(
        a.getAppKeyCertificate().toBuilder().setSignature(bytes(m, a.getAppKeyCertificate().getSignature())))));
    f.put("SVID key ID", (c, m) -> svidKey(c, k -> k.setKeyId(
        new String(m.apply(k.getKeyId().getBytes(StandardCharsets.ISO_8859_1)), StandardCharsets.ISO_8859_1))));
    f.put("SVID key public area", (c, m) -> svidKey(c, k -> k.setPublicArea(bytes(m, k.getPublicArea()))));
    f.put("SVID key certify_info", (c, m) -> svidKey(c, k -> k.setCertificate(
        k.getCertificate().toBuilder().setCertifyInfo(bytes(m, k.getCertificate().getCertifyInfo())))));
    f.put("SVID key certification signature", (c, m) -> svidKey(c, k -> k.setCertificate(
        k.getCertificate().toBuilder().setSignature(bytes(m, k.getCertificate().getSignature())))));
    return f.entrySet().stream().map(e -> new Object[] {e.getKey(), e.getValue()});
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fields")
  void everyCorruptionOfTheEvidenceIsRefusedAsEvidence(String name, Field field) throws Exception {
    List<String> failures = new ArrayList<>();
    int refused = 0;
    for (Map.Entry<String, Case> kind : cases.entrySet()) {
      Random random = new Random(SEED ^ name.hashCode() ^ kind.getKey().hashCode());
      for (int round = 0; round < ROUNDS_PER_FIELD && failures.size() < 5; round++) {
        Corruption corruption = Corruption.pick(random);
        Case c = kind.getValue();
        byte[][] corrupted = field.corrupt(c, corruption);
        if (corrupted == null) {
          continue; // the corruption changed nothing (a byte set to the value it had)
        }
        String what = kind.getKey() + ", " + name + ", round " + round + ", " + corruption + " (seed " + SEED + ")";
        try {
          VerifiedEvidence v = verify(c, corrupted[0], corrupted[1]);
          if (!sameClaims(v, c.verified())) {
            String claims = v.toString();
            failures.add(what + ": ACCEPTED with other claims: " + claims.substring(0, Math.min(claims.length(), 400)));
          }
        } catch (EvidenceException e) {
          refused++;
        } catch (Throwable t) {
          failures.add(what + ": " + t + " at " + (t.getStackTrace().length > 0 ? t.getStackTrace()[0] : "?"));
        }
      }
    }
    assertThat(failures).as("corruptions not refused as evidence").isEmpty();
    assertThat(refused).as("corruptions refused").isGreaterThan(ROUNDS_PER_FIELD);
  }

  /**
   * What a corrupted answer may still verify to: the original's claims, less SVID keys at most (an
   * answer cut short at a field boundary, or with a key's field number changed, loses them; the agent
   * may send none anyway, and the server then binds no SVID key). Protobuf may also decode changed
   * bytes to the same values: an unknown field, a field repeated with its own value, the case of a
   * UUID or hash name, which the server reads case-insensitively.
   */
  static boolean sameClaims(VerifiedEvidence v, VerifiedEvidence original) {
    return v.agentId().equals(original.agentId()) && v.ak().equals(original.ak()) && v.appKey().equals(original.appKey())
        && v.quote().equals(original.quote()) && v.pcrs().equals(original.pcrs())
        && v.appKeyCertification().equals(original.appKeyCertification())
        && original.svidKeys().containsAll(v.svidKeys());
  }

  interface Edit<T> {
    T apply(T value) throws Exception;
  }

  static byte[][] pair(byte[] payload, byte[] attestation) {
    return new byte[][] {payload, attestation};
  }

  static byte[][] attestation(Case c, java.util.function.Consumer<SovereignAttestation.Builder> edit) {
    SovereignAttestation.Builder b = c.attestation().toBuilder();
    edit.accept(b);
    SovereignAttestation corrupted = b.build();
    return corrupted.equals(c.attestation()) ? null : pair(c.payload(), corrupted.toByteArray());
  }

  static byte[][] quote(Case c, Edit<KeylimeQuote> edit) throws Exception {
    KeylimeQuote corrupted = edit.apply(KeylimeQuote.parse(c.attestation().getTpmSignedAttestation()));
    return attestation(c, a -> a.setTpmSignedAttestation(corrupted.encode()));
  }

  static byte[][] svidKey(Case c, java.util.function.Consumer<CertifiedKey.Builder> edit) {
    return attestation(c, a -> {
      CertifiedKey.Builder k = a.getSvidKeys(0).toBuilder();
      edit.accept(k);
      a.setSvidKeys(0, k);
    });
  }

  static Bytes bytes(UnaryOperator<byte[]> m, Bytes b) {
    return Bytes.copyFrom(m.apply(b.toByteArray()));
  }

  static ByteString bytes(UnaryOperator<byte[]> m, ByteString b) {
    return ByteString.copyFrom(m.apply(b.toByteArray()));
  }

  /**
   * One corruption of a byte string, chosen at random: what a bit error, a truncation or a hostile
   * sender would make of it, with the TPM's 2-byte big-endian sizes and tags in mind.
   */
  record Corruption(String kind, int at, int value, int length) implements UnaryOperator<byte[]> {
    static final String[] KINDS = {"flip a bit", "set a byte", "set a 16-bit size", "truncate", "append",
        "delete a byte", "insert a byte", "duplicate a slice"};
    static final int[] SIZES = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff};

    static Corruption pick(Random r) {
      String kind = KINDS[r.nextInt(KINDS.length)];
      int value = kind.equals("set a 16-bit size") ? SIZES[r.nextInt(SIZES.length)] : r.nextInt(256);
      return new Corruption(kind, r.nextInt(Integer.MAX_VALUE), value, 1 + r.nextInt(64));
    }

    @Override
    public byte[] apply(byte[] in) {
      if (in.length == 0) {
        return kind.equals("append") || kind.equals("insert a byte") ? new byte[] {(byte) value} : in;
      }
      int i = at % in.length;
      byte[] out;
      switch (kind) {
        case "flip a bit" -> {
          out = in.clone();
          out[i] ^= (byte) (1 << (value & 7));
        }
        case "set a byte" -> {
          out = in.clone();
          out[i] = (byte) value;
        }
        case "set a 16-bit size" -> {
          out = in.clone();
          out[i] = (byte) (value >>> 8);
          if (i + 1 < out.length) {
            out[i + 1] = (byte) value;
          }
        }
        case "truncate" -> out = Arrays.copyOf(in, i);
        case "append" -> {
          out = Arrays.copyOf(in, in.length + length);
          Arrays.fill(out, in.length, out.length, (byte) value);
        }
        case "delete a byte" -> {
          out = new byte[in.length - 1];
          System.arraycopy(in, 0, out, 0, i);
          System.arraycopy(in, i + 1, out, i, in.length - i - 1);
        }
        case "insert a byte" -> {
          out = new byte[in.length + 1];
          System.arraycopy(in, 0, out, 0, i);
          out[i] = (byte) value;
          System.arraycopy(in, i, out, i + 1, in.length - i);
        }
        case "duplicate a slice" -> {
          int n = Math.min(length, in.length - i);
          out = new byte[in.length + n];
          System.arraycopy(in, 0, out, 0, i + n);
          System.arraycopy(in, i, out, i + n, in.length - i);
        }
        default -> throw new IllegalStateException(kind);
      }
      return out;
    }

    @Override
    public String toString() {
      return kind + " (at " + at + ", value " + value + ", length " + length + ")";
    }
  }
}
