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
 * app_key:}, {@code tpm:manufacturer|model|version:} (only from an EK certificate that chained to
 * the EK CA bundle), {@code pcr:<bank>:<index>:<hex>} (quoted and allow-listed), {@code
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

  private static List<String> selectors(VerifiedNode node, Policy policy) {
    List<String> out = new ArrayList<>();
    out.add("uuid:" + node.agentId().value());
    out.add("ek_hash:" + node.ek().spkiSha256());
    out.add("app_key:" + node.appKey().spkiSha256());
    node.ekCertificate().tpm().ifPresent(tpm -> {
      tpm.manufacturer().ifPresent(v -> out.add("tpm:manufacturer:" + v));
      tpm.model().ifPresent(v -> out.add("tpm:model:" + v));
      tpm.version().ifPresent(v -> out.add("tpm:version:" + v));
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
