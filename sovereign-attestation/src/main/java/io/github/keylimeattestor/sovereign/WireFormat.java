package io.github.keylimeattestor.sovereign;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.github.keylimeattestor.proto.sovereign.AppKeyCertificate;
import io.github.keylimeattestor.proto.sovereign.AttestationChallenge;
import io.github.keylimeattestor.proto.sovereign.AttestationPayload;
import io.github.keylimeattestor.proto.sovereign.CertifiedKey;
import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.util.Locale;
import java.util.Map;

/**
 * Encoding, and size-limited decoding, of the three messages of sovereign_attestation.proto. Version 2 (what the
 * agent plugin sends) adds the certified agent SVID keys; version 1 (without them) is still read;
 * any other version is refused.
 */
public final class WireFormat {
  public static final int VERSION = 2;
  /** The version before SVID keys; a v1 attestation that carries them is refused. */
  public static final int VERSION_WITHOUT_SVID_KEYS = 1;
  public static final int MAX_PAYLOAD = 4 * 1024;
  public static final int MAX_CHALLENGE = 1024;
  public static final int MAX_ATTESTATION = 32 * 1024;
  static final int MAX_PUBLIC = 1024;

  private WireFormat() {}

  /**
   * The payload, decoded and checked for form (not yet for truth). {@code hashAlg} is the agent's
   * claim of the hash its AK signs with; {@link EvidenceVerifier} holds it to the registrar's AK.
   */
  public record Payload(KeylimeAgentId agentId, TpmPublic appKey, Bytes appKeyRaw, int hashAlg, int version) {}

  /** A key's TPM2_Certify by the AK, as the agent plugin sends it. */
  public record Certification(TpmPublic publicArea, Bytes certifyInfo, Bytes signature) {}

  /** The challenge as the agent plugin reads it. */
  public record Challenge(Nonce nonce, PcrSelection selection) {}

  public static byte[] encodePayload(KeylimeAgentId id, TpmPublic appKey, String hashAlg) {
    return AttestationPayload.newBuilder().setVersion(VERSION).setKeylimeAgentUuid(id.value())
        .setAppKeyPublic(ByteString.copyFrom(appKey.marshalTpm2b()))
        .setHashAlg(hashAlg).build().toByteArray();
  }

  public static Payload decodePayload(byte[] bytes) throws EvidenceException {
    if (bytes.length == 0 || bytes.length > MAX_PAYLOAD) {
      throw EvidenceException.malformed("payload", "attestation payload is empty or longer than " + MAX_PAYLOAD
          + " bytes: is the agent running the keylime-attestor-agent plugin?");
    }
    AttestationPayload p;
    try {
      p = AttestationPayload.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw EvidenceException.malformed("payload", "attestation payload is not a keylime-attestor payload");
    }
    if (p.getVersion() != VERSION && p.getVersion() != VERSION_WITHOUT_SVID_KEYS) {
      throw EvidenceException.malformed("payload", "attestation payload version " + p.getVersion()
          + " is not supported (this server speaks " + VERSION_WITHOUT_SVID_KEYS + " and " + VERSION
          + "): upgrade the older plugin");
    }
    KeylimeAgentId id = KeylimeAgentId.parse(p.getKeylimeAgentUuid());
    byte[] raw = p.getAppKeyPublic().toByteArray();
    return new Payload(id, appKeyPublic(raw), Bytes.copyFrom(raw), hashAlg(p.getHashAlg()), p.getVersion());
  }

  public static byte[] encodeChallenge(Nonce nonce, PcrSelection selection) {
    AttestationChallenge.Builder b = AttestationChallenge.newBuilder().setNonce(nonce.text());
    if (selection.banks().size() != 1) {
      throw new IllegalArgumentException("the challenge carries exactly one PCR bank");
    }
    PcrSelection.Bank bank = selection.banks().get(0);
    b.setPcrBank(hashAlgName(bank.hashAlg()));
    bank.pcrs().forEach(b::addPcrIndices);
    return b.build().toByteArray();
  }

  public static Challenge decodeChallenge(byte[] bytes) throws EvidenceException {
    if (bytes.length == 0 || bytes.length > MAX_CHALLENGE) {
      throw EvidenceException.malformed("challenge", "challenge is empty or longer than " + MAX_CHALLENGE + " bytes");
    }
    AttestationChallenge c;
    try {
      c = AttestationChallenge.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw EvidenceException.malformed("challenge", "challenge is not a keylime-attestor challenge");
    }
    int[] pcrs = c.getPcrIndicesList().stream().mapToInt(Integer::intValue).toArray();
    for (int pcr : pcrs) {
      if (pcr < 0 || pcr > 23) {
        throw EvidenceException.malformed("challenge", "challenge asks for PCR " + pcr + " (0-23 only)");
      }
    }
    return new Challenge(Nonce.parse(c.getNonce()), PcrSelection.of(hashAlg(c.getPcrBank()), pcrs));
  }

  /**
   * The agent plugin's answer: the Keylime quote string, the App Key and its certification, and
   * the certified agent SVID keys by key ID (in the map's order).
   */
  public static byte[] encodeAttestation(KeylimeAgentId agentId, Nonce nonce, String quote, Certification appKey,
      Map<String, Certification> svidKeys) {
    SovereignAttestation.Builder b = SovereignAttestation.newBuilder()
        .setTpmSignedAttestation(quote)
        .setAppKeyPublic(ByteString.copyFrom(appKey.publicArea().marshalTpm2b()))
        .setChallengeNonce(nonce.text())
        .setAppKeyCertificate(certificate(appKey))
        .setKeylimeAgentUuid(agentId.value());
    svidKeys.forEach((id, k) -> b.addSvidKeys(CertifiedKey.newBuilder().setKeyId(id)
        .setPublicArea(ByteString.copyFrom(k.publicArea().marshalTpm2b())).setCertificate(certificate(k))));
    return b.build().toByteArray();
  }

  private static AppKeyCertificate certificate(Certification c) {
    return AppKeyCertificate.newBuilder().setCertifyInfo(ByteString.copyFrom(c.certifyInfo().toByteArray()))
        .setSignature(ByteString.copyFrom(c.signature().toByteArray())).build();
  }

  public static SovereignAttestation decodeAttestation(byte[] bytes) throws EvidenceException {
    if (bytes.length == 0 || bytes.length > MAX_ATTESTATION) {
      throw EvidenceException.malformed("attestation", "challenge response is empty or longer than "
          + MAX_ATTESTATION + " bytes");
    }
    try {
      return SovereignAttestation.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw EvidenceException.malformed("attestation", "challenge response is not a SovereignAttestation");
    }
  }

  /** A certified key's TPM2B_PUBLIC, checked for form. */
  static TpmPublic svidKeyPublic(byte[] raw, String keyId) throws EvidenceException {
    try {
      return TpmPublic.parseTpm2b(raw, MAX_PUBLIC);
    } catch (TpmFormatException e) {
      throw EvidenceException.malformed("svid_key_public", "SVID key " + keyId + ": public area is malformed: "
          + e.getMessage());
    }
  }

  static TpmPublic appKeyPublic(byte[] raw) throws EvidenceException {
    try {
      return TpmPublic.parseTpm2b(raw, MAX_PUBLIC);
    } catch (TpmFormatException e) {
      throw EvidenceException.malformed("app_key_public", "App Key public area is malformed: " + e.getMessage());
    }
  }

  /** Keylime's hash algorithm names ("sha256"). */
  public static int hashAlg(String name) throws EvidenceException {
    try {
      return Alg.fromKeylimeHashName(name.toLowerCase(Locale.ROOT));
    } catch (TpmFormatException e) {
      throw EvidenceException.malformed("hash_alg", "hash algorithm '" + name + "' is not one Keylime knows");
    }
  }

  public static String hashAlgName(int alg) {
    String name = Alg.keylimeHashName(alg);
    if (name == null) {
      throw new IllegalArgumentException(String.format("hash algorithm 0x%04x has no Keylime name", alg));
    }
    return name;
  }
}
