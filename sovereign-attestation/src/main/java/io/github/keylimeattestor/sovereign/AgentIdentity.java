package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.structure.PcrBlob;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The SPIFFE ID and selector values (type = the plugin name) of a verified node under the server's
 * policy, as SPIRE's x509pop derives them ({@code MakeAgentID}, {@code buildSelectorValues}): a pure
 * function of verified data. Selectors, in this order: {@code uuid:}, {@code ek_hash:}, {@code
 * app_key:}, {@code tpm:manufacturer|model|version:} and {@code tpm:firmware:} (only with an EK
 * certificate that chained to the EK CA bundle), {@code pcr:<bank>:<index>:<hex>} (quoted and allow-listed), {@code
 * attestation_status:}, {@code meta:<key>:<value>} (allow-listed, tenant-asserted) and {@code
 * policy:<name>}.
 */
public record AgentIdentity(String spiffeId, List<String> selectors) {
  public AgentIdentity {
    selectors = List.copyOf(selectors);
  }

  /**
   * What the server's configuration decides: the plugin name (the selector type and {@code
   * .PluginName}), trust domain, {@code agent_path_template}, and the PCR indices and {@code
   * meta_data} keys that become selectors.
   */
  public record Policy(String pluginName, String trustDomain, AgentPathTemplate agentPath, Set<Integer> pcrSelectors,
      Set<String> metaSelectors) {
    public Policy {
      pcrSelectors = Set.copyOf(pcrSelectors);
      metaSelectors = Set.copyOf(metaSelectors);
    }
  }

  /** Fails (REJECTED, check "agent_path") if the template needs a field this node lacks or renders no valid path. */
  public static AgentIdentity of(VerifiedNode node, Policy policy) throws EvidenceException {
    String path = policy.agentPath().render(pathValues(node, policy));
    return new AgentIdentity("spiffe://" + policy.trustDomain() + "/spire/agent" + path, selectors(node, policy));
  }

  private static Map<String, String> pathValues(VerifiedNode node, Policy policy) {
    Map<String, String> v = AgentPathTemplate.values(policy.pluginName(), policy.trustDomain(), node.agentId().value(),
        node.ek().spkiSha256(), node.appKey().spkiSha256());
    Optional<EkCertificate.TpmInfo> tpm = node.ekCertificate().tpm();
    // TCG's manufacturer attribute is "id:" and 8 hex digits; a SPIFFE path has no ':', so the path takes the digits
    tpm.flatMap(EkCertificate.TpmInfo::manufacturer).ifPresent(m -> v.put("TPMManufacturer", m.startsWith("id:")
        ? m.substring(3) : m));
    tpm.flatMap(EkCertificate.TpmInfo::model).ifPresent(m -> v.put("TPMModel", m));
    return v;
  }

  /**
   * The firmware version the TPM signed into this attestation's quote (TPMS_ATTEST.firmwareVersion),
   * as 16 hex digits: TPM_PT_FIRMWARE_VERSION_1 then _2, as {@code tpm2_getcap properties-fixed} shows
   * them. Unlike {@code tpm:version:} (the EK certificate's, fixed when the TPM was made) it follows
   * firmware updates. Only a TPM whose EK certificate chained is known to be a TPM reporting its own
   * firmware. A Keylime AK is a key of the endorsement hierarchy, for which the TPM reports the value
   * as it is; for a signing key of another hierarchy it adds a KDF of its storage hierarchy's secret
   * over the key's Name (TPM 2.0 Part 4, FillInAttestInfo), so an entry written for a real version
   * matches none: fail closed.
   */
  static String firmware(long firmwareVersion) {
    return String.format(Locale.ROOT, "%016x", firmwareVersion);
  }

  private static List<String> selectors(VerifiedNode node, Policy policy) {
    List<String> out = new ArrayList<>();
    out.add("uuid:" + node.agentId().value());
    out.add("ek_hash:" + node.ek().spkiSha256());
    out.add("app_key:" + node.appKey().spkiSha256());
    node.ekCertificate().tpm().ifPresent(tpm -> {
      tpm.manufacturer().ifPresent(v -> out.add("tpm:manufacturer:" + v));
      tpm.model().ifPresent(v -> out.add("tpm:model:" + v));
      tpm.version().ifPresent(v -> out.add("tpm:version:" + v));
      out.add("tpm:firmware:" + firmware(node.quote().firmwareVersion()));
    });
    PcrBlob pcrs = node.pcrs();
    for (var bank : pcrs.selection().banks()) {
      String bankName = WireFormat.hashAlgName(bank.hashAlg());
      for (int pcr : new TreeSet<>(bank.pcrs())) {
        if (policy.pcrSelectors().contains(pcr)) {
          out.add("pcr:" + bankName + ":" + pcr + ":" + pcrs.value(bank.hashAlg(), pcr).toHex());
        }
      }
    }
    node.verifier().attestationStatus().ifPresent(s -> out.add("attestation_status:" + s.toLowerCase(Locale.ROOT)));
    for (String key : new TreeSet<>(policy.metaSelectors())) {
      String v = node.verifier().metaData().get(key);
      if (v != null) {
        out.add("meta:" + key + ":" + v);
      }
    }
    node.verifier().policies().forEach(p -> out.add("policy:" + p));
    return out;
  }
}
