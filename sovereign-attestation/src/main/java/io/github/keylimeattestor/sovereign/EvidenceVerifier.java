package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.proto.sovereign.CertifiedKey;
import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.tpm.AlgorithmPolicy;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.ObjectAttributes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.TpmVerificationException;
import io.github.keylimeattestor.tpm.TpmVerifier;
import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.Map;

/**
 * Checks one SovereignAttestation against the challenge this server minted and the AK Keylime's
 * registrar holds for the node, failing at the first miss (DESIGN.md section 2, step 4). Pure: no
 * I/O; the caller fetched the registrar's keys and applies Keylime's status policy.
 */
public final class EvidenceVerifier {
  /** SPIRE's key IDs ("agent-svid-A"); they are written into binding records, one per line. */
  private static final java.util.regex.Pattern SVID_KEY_ID = java.util.regex.Pattern.compile("[A-Za-z0-9._-]{1,64}");

  /** The AK must be a restricted signing key: only then can a TPMS_ATTEST it signed be TPM-made. */
  static final int AK_REQUIRED = ObjectAttributes.FIXED_TPM | ObjectAttributes.RESTRICTED | ObjectAttributes.SIGN;
  static final int MAX_QUOTE_STRING = 8 * 1024;

  private final ClockHistory clocks;

  public EvidenceVerifier(ClockHistory clocks) {
    this.clocks = clocks;
  }

  /**
   * What the server's configuration decides for the evidence: the PCR policy, whether SHA-1 is
   * acceptable ({@code allow_sha1}), the EK CA bundle ({@code ek_ca_bundle}, empty for none) and
   * {@code require_ek_cert}.
   */
  public record Policy(PcrPolicy pcrs, AlgorithmPolicy algorithms, List<X509Certificate> ekCaBundle,
      boolean requireEkCert) {
    public Policy {
      ekCaBundle = List.copyOf(ekCaBundle);
    }
  }

  /**
   * Every check of DESIGN.md section 2 step 4 that needs no network: the evidence against the
   * nonce minted on this stream and the registrar's AK ({@link #verify}), then the registrar's EK
   * certificate against the EK CA bundle. Returns the one value the agent ID and selectors come
   * from ({@link AgentIdentity#of}); {@code verifier} is carried into it unchanged.
   */
  public VerifiedNode verifyNode(Nonce minted, Policy policy, WireFormat.Payload payload, SovereignAttestation att,
      RegisteredKeys registered, VerifierRecord verifier) throws EvidenceException {
    Checked c = check(minted, policy.pcrs(), payload, att, registered.ak(), policy.algorithms());
    EkCertificate.Result ek = EkCertificate.check(payload.agentId(), registered.ekCertificate(), registered.ekCertificateUnreadable(), registered.ek().key(),
        policy.ekCaBundle(), policy.requireEkCert());
    return new VerifiedNode(payload.agentId(), registered.ak(), c.appKey(), registered.ek(), ek,
        c.evidence().quote(), c.evidence().pcrs(), c.evidence().svidKeys(), verifier);
  }

  /** {@link #verify(Nonce, PcrPolicy, WireFormat.Payload, SovereignAttestation, TpmPublic, AlgorithmPolicy)}, SHA-1 refused. */
  public VerifiedEvidence verify(Nonce minted, PcrPolicy policy, WireFormat.Payload payload,
      SovereignAttestation att, TpmPublic ak) throws EvidenceException {
    return verify(minted, policy, payload, att, ak, AlgorithmPolicy.STRICT);
  }

  /**
   * Verifies {@code att} against the nonce minted on this stream and the registrar's AK. The AK's
   * public area decides the signature scheme and hash of both the quote and the App Key
   * certification (and the payload must name that hash); {@code algorithms} decides whether SHA-1
   * is acceptable there and in PCR banks.
   */
  public VerifiedEvidence verify(Nonce minted, PcrPolicy policy, WireFormat.Payload payload,
      SovereignAttestation att, TpmPublic ak, AlgorithmPolicy algorithms) throws EvidenceException {
    TpmKey akKey;
    try {
      akKey = TpmKey.of(ak);
    } catch (TpmFormatException e) {
      throw EvidenceException.rejected("ak", "the registrar's AK for " + payload.agentId() + " is unusable: " + e.getMessage());
    }
    return check(minted, policy, payload, att, akKey, algorithms).evidence();
  }

  private record Checked(VerifiedEvidence evidence, TpmKey appKey) {}

  private Checked check(Nonce minted, PcrPolicy policy, WireFormat.Payload payload, SovereignAttestation att,
      TpmKey registrarAk, AlgorithmPolicy algorithms) throws EvidenceException {
    if (!MessageDigest.isEqual(minted.text().getBytes(StandardCharsets.US_ASCII),
        att.getChallengeNonce().getBytes(StandardCharsets.US_ASCII))) {
      throw EvidenceException.rejected("nonce", "the attestation answers another challenge (replayed or stale evidence)");
    }
    if (!payload.agentId().value().equals(att.getKeylimeAgentUuid().toLowerCase(java.util.Locale.ROOT))) {
      throw EvidenceException.rejected("agent_uuid", "the attestation names another Keylime agent than the payload");
    }
    if (!payload.appKeyRaw().constantTimeEquals(att.getAppKeyPublic().toByteArray())) {
      throw EvidenceException.rejected("app_key_public", "the attestation carries another App Key than the payload");
    }
    TpmPublic ak = registrarAk.publicArea();
    if (!ak.hasAttributes(AK_REQUIRED)) {
      throw EvidenceException.rejected("ak_attributes", String.format("the registrar's AK for %s (attributes 0x%08x) "
          + "is not a restricted signing key", payload.agentId(), ak.objectAttributes()));
    }
    TpmVerifier akKey;
    try {
      akKey = TpmVerifier.forAk(ak, algorithms);
    } catch (TpmFormatException e) {
      throw EvidenceException.rejected("ak", "the registrar's AK for " + payload.agentId() + " is unusable: " + e.getMessage());
    } catch (TpmVerificationException e) {
      throw EvidenceException.rejected("ak_scheme", "the registrar's AK for " + payload.agentId() + " is refused: "
          + e.getMessage());
    }
    checkPayloadHash(payload, akKey);

    Quoted quote = checkQuote(minted, policy, att, akKey, payload);
    clocks.check(registrarAk.name(), quote.attest());

    Attest certification;
    try {
      certification = akKey.verifyCertify(att.getAppKeyCertificate().getCertifyInfo().toByteArray(),
          att.getAppKeyCertificate().getSignature().toByteArray(), payload.appKey(),
          AppKeyBinding.certifyQualifyingData(minted));
    } catch (TpmFormatException e) {
      throw EvidenceException.malformed("app_key_certify", "App Key certification is malformed: " + e.getMessage());
    } catch (TpmVerificationException e) {
      throw EvidenceException.rejected("app_key_certify", "App Key certification by the AK does not verify: "
          + e.getMessage());
    }
    AppKeyBinding.checkAttributes(payload.appKey());
    AppKeyBinding.checkNotTopOfAHierarchy(certification.certify(), payload.appKey(), "app_key");
    TpmKey appKey;
    try {
      appKey = TpmKey.of(payload.appKey());
    } catch (TpmFormatException e) {
      throw EvidenceException.malformed("app_key_public", "App Key public area holds no usable key: " + e.getMessage());
    }
    List<VerifiedEvidence.CertifiedSvidKey> svidKeys = checkSvidKeys(minted, payload, att, akKey);
    clocks.record(registrarAk.name(), quote.attest());
    return new Checked(new VerifiedEvidence(payload.agentId(), ak, payload.appKey(), quote.attest(), quote.pcrs(),
        certification, svidKeys), appKey);
  }

  /**
   * The payload's hash algorithm is the agent's claim (agent_data.json's {@code ak_hash_alg}) of the
   * hash its AK signs with; the registrar's AK decides, and a different claim means agent_data_path
   * names another AK than the one Keylime registered for this agent: a wrong key, refused as such.
   */
  private static void checkPayloadHash(WireFormat.Payload payload, TpmVerifier akKey) throws EvidenceException {
    int signs = akKey.scheme().hashAlg();
    if (payload.hashAlg() != signs) {
      throw EvidenceException.rejected("hash_alg", "the payload says agent " + payload.agentId() + "'s AK signs with "
          + WireFormat.hashAlgName(payload.hashAlg()) + " (ak_hash_alg in its agent_data.json) but the registrar's AK "
          + "for it signs with " + akKey.scheme() + ": agent_data_path must be the file of the Keylime agent "
          + "registered under this UUID");
    }
  }

  /**
   * Each SVID key: certified by the same AK, for this nonce and this key ID, a TPM-resident signing
   * key (the App Key's attribute rules), a public key Java can encode, no key ID twice.
   */
  private List<VerifiedEvidence.CertifiedSvidKey> checkSvidKeys(Nonce minted, WireFormat.Payload payload,
      SovereignAttestation att, TpmVerifier akKey) throws EvidenceException {
    if (att.getSvidKeysCount() == 0) {
      return List.of();
    }
    if (payload.version() < WireFormat.VERSION) {
      throw EvidenceException.malformed("svid_keys", "a version " + payload.version()
          + " attestation cannot carry SVID keys: the agent plugin is inconsistent");
    }
    if (att.getSvidKeysCount() > SvidKeyBinding.MAX_KEYS) {
      throw EvidenceException.malformed("svid_keys", "the attestation carries " + att.getSvidKeysCount()
          + " SVID keys (at most " + SvidKeyBinding.MAX_KEYS + ")");
    }
    List<VerifiedEvidence.CertifiedSvidKey> out = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (CertifiedKey k : att.getSvidKeysList()) {
      String id = k.getKeyId();
      if (!SVID_KEY_ID.matcher(id).matches() || !seen.add(id)) {
        throw EvidenceException.malformed("svid_keys", "an SVID key ID is not 1-64 characters of [A-Za-z0-9._-], "
            + "or is repeated");
      }
      TpmPublic pub = WireFormat.svidKeyPublic(k.getPublicArea().toByteArray(), id);
      Attest certified;
      try {
        certified = akKey.verifyCertify(k.getCertificate().getCertifyInfo().toByteArray(),
            k.getCertificate().getSignature().toByteArray(), pub, SvidKeyBinding.certifyQualifyingData(minted, id));
      } catch (TpmFormatException e) {
        throw EvidenceException.malformed("svid_key_certify", "SVID key " + id + ": certification is malformed: "
            + e.getMessage());
      } catch (TpmVerificationException e) {
        throw EvidenceException.rejected("svid_key_certify", "SVID key " + id + ": certification by the AK does "
            + "not verify: " + e.getMessage());
      }
      try {
        AppKeyBinding.checkAttributes(pub);
      } catch (EvidenceException e) {
        throw EvidenceException.rejected("svid_key_attributes", "SVID key " + id + ": " + e.getMessage());
      }
      AppKeyBinding.checkNotTopOfAHierarchy(certified.certify(), pub, "svid_key");
      Bytes spki;
      try {
        spki = Bytes.copyFrom(pub.toPublicKey().getEncoded());
      } catch (TpmFormatException e) {
        throw EvidenceException.malformed("svid_key_public", "SVID key " + id + ": " + e.getMessage());
      }
      out.add(new VerifiedEvidence.CertifiedSvidKey(id, pub, spki));
    }
    return out;
  }

  private record Quoted(Attest attest, io.github.keylimeattestor.tpm.structure.PcrBlob pcrs) {}

  private Quoted checkQuote(Nonce minted, PcrPolicy policy, SovereignAttestation att, TpmVerifier akKey,
      WireFormat.Payload payload) throws EvidenceException {
    TpmVerifier.VerifiedQuote q;
    try {
      KeylimeQuote parsed = KeylimeQuote.parse(att.getTpmSignedAttestation(), MAX_QUOTE_STRING);
      q = akKey.verifyQuote(parsed, minted.quoteQualifyingData());
    } catch (TpmFormatException e) {
      throw EvidenceException.malformed("quote", "TPM quote is malformed: " + e.getMessage());
    } catch (TpmVerificationException e) {
      throw EvidenceException.rejected("quote", "TPM quote does not verify with the registrar's AK for "
          + payload.agentId() + ": " + e.getMessage());
    }
    if (!q.attest().quote().pcrSelect().covers(policy.selection())) {
      throw EvidenceException.rejected("pcr_selection", "the quote covers " + q.attest().quote().pcrSelect()
          + " but the policy asks for " + policy.selection() + " (pcr_policy.pcrs)");
    }
    for (Map.Entry<Integer, List<Bytes>> e : policy.expected().entrySet()) {
      Bytes actual = q.pcrs().value(policy.hashAlg(), e.getKey());
      boolean allowed = actual != null && e.getValue().stream().anyMatch(v -> v.constantTimeEquals(actual));
      if (!allowed) {
        throw EvidenceException.rejected("pcr_value", "PCR " + WireFormat.hashAlgName(policy.hashAlg()) + ":" + e.getKey()
            + " is " + (actual == null ? "missing" : actual.toHex()) + ", the policy allows "
            + (e.getValue().size() == 1 ? "" : "one of ") + String.join(", ",
                e.getValue().stream().map(Bytes::toHex).toList()));
      }
    }
    return new Quoted(q.attest(), q.pcrs());
  }
}
