package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.Sha256;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Selector values (type = the plugin name) from verified data only: the Keylime agent UUID, EK and
 * App Key hashes, TPM identity from a verified EK certificate, allow-listed quoted PCRs, Keylime's
 * attestation status and allow-listed verifier metadata (tenant-asserted, not TPM-attested).
 */
public final class Selectors {
  private Selectors() {}

  /** Lower-case hex SHA-256 of the key's SubjectPublicKeyInfo DER ({@code openssl pkey -pubin -outform DER | sha256sum}). */
  public static String keyHash(PublicKey key) {
    return Sha256.hex(key.getEncoded());
  }

  public static List<String> build(VerifiedEvidence evidence, String ekHash, String appKeyHash,
      EkCertificate.TpmInfo tpm, Set<Integer> pcrAllowList, String attestationStatus,
      Map<String, String> metadata, Set<String> metaAllowList) {
    List<String> out = new ArrayList<>();
    out.add("uuid:" + evidence.agentId().value());
    out.add("ek_hash:" + ekHash);
    out.add("app_key:" + appKeyHash);
    if (tpm != null) {
      tpm.manufacturer().ifPresent(v -> out.add("tpm:manufacturer:" + v));
      tpm.model().ifPresent(v -> out.add("tpm:model:" + v));
      tpm.version().ifPresent(v -> out.add("tpm:version:" + v));
    }
    PcrBlob pcrs = evidence.pcrs();
    for (var bank : pcrs.selection().banks()) {
      String bankName = WireFormat.hashAlgName(bank.hashAlg());
      for (int pcr : new TreeSet<>(bank.pcrs())) {
        if (pcrAllowList.contains(pcr)) {
          out.add("pcr:" + bankName + ":" + pcr + ":" + pcrs.value(bank.hashAlg(), pcr).toHex());
        }
      }
    }
    if (attestationStatus != null) {
      out.add("attestation_status:" + attestationStatus.toLowerCase(Locale.ROOT));
    }
    for (String key : new TreeSet<>(metaAllowList)) {
      String v = metadata.get(key);
      if (v != null) {
        out.add("meta:" + key + ":" + v);
      }
    }
    return out;
  }
}
