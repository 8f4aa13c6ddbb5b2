package io.github.keylimeattestor.server.trust;

import io.github.keylimeattestor.keylime.IntegrityPolicy;
import io.github.keylimeattestor.keylime.Json;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.sovereign.VerifierRecord;
import io.grpc.Status;
import io.grpc.StatusException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The operator's admission rules beyond Keylime's verdict, checked before the challenge is sent:
 * the EK allow-list (against the registrar's EK), the required verifier meta_data, and the
 * integrity policy Keylime enforces for the node. Each refusal is PermissionDenied (the node is not
 * admitted until the operator changes something) except an unreadable allow-list (Unavailable).
 */
public final class NodeAdmission {
  private static final Log LOG = Log.named("keylime.server");

  private NodeAdmission() {}

  /** The EK allow-list, if configured. {@code ekHash} is the registrar EK's {@code ek_hash} selector value. */
  public static void checkEk(TrustConfig c, String agentId, String ekHash) throws StatusException {
    if (c.ekAllowList().isEmpty()) {
      return;
    }
    boolean allowed;
    try {
      allowed = EkAllowList.allows(c.ekAllowList().get(), ekHash);
    } catch (IOException e) {
      throw Status.UNAVAILABLE.withDescription("cannot read ek_hash_allow_list " + c.ekAllowList().get() + ": "
          + e.getMessage()).asException();
    }
    if (!allowed) {
      throw Status.PERMISSION_DENIED.withDescription("agent " + agentId + ": its EK (ek_hash " + ekHash + ") is not in "
          + "ek_hash_allow_list " + c.ekAllowList().get() + "; to admit this TPM, "
          + (java.nio.file.Files.isDirectory(c.ekAllowList().get()) ? "touch " + c.ekAllowList().get().resolve(ekHash)
              : "add the line " + ekHash + " to that file")).asException();
    }
  }

  /** Required meta_data and the integrity policy, from the verifier's record of the node. */
  public static void checkVerifierRecord(TrustConfig c, VerifierAgentStatus s) throws StatusException {
    if (!c.requiredMetaData().isEmpty()) {
      Map<String, String> have = metaData(s);
      List<String> wrong = new ArrayList<>();
      c.requiredMetaData().forEach((k, v) -> {
        if (!v.equals(have.get(k))) {
          wrong.add(k + " = \"" + v + "\" (the verifier has " + (have.containsKey(k) ? "\"" + have.get(k) + "\"" : "none")
              + ")");
        }
      });
      if (!wrong.isEmpty()) {
        throw Status.PERMISSION_DENIED.withDescription("agent " + s.agentId() + ": the verifier's meta_data lacks "
            + "required_meta_data " + String.join(", ", wrong) + "; enrol the node with keylime_tenant --meta_data, or "
            + "change required_meta_data").asException();
      }
    }
    if (c.requireIntegrityPolicy()) {
      IntegrityPolicy p = s.integrityPolicy();
      if (!p.known()) {
        throw Status.PERMISSION_DENIED.withDescription("agent " + s.agentId() + ": the verifier's record says nothing "
            + "about its policies (no tpm_policy, has_mb_refstate, has_runtime_policy) and require_integrity_policy = "
            + "true").asException();
      }
      if (!p.enforcesAny()) {
        throw Status.PERMISSION_DENIED.withDescription("agent " + s.agentId() + ": Keylime checks nothing for this node "
            + "(tpm_policy " + s.tpmPolicy().orElse("none") + " lists no PCR value, no measured-boot policy, no runtime "
            + "policy) and require_integrity_policy = true; re-enrol it with keylime_tenant --tpm_policy, --mb_policy "
            + "or --runtime-policy").asException();
      }
    }
  }

  /**
   * What the agent ID and selectors take from the verifier's record: the attestation status, the
   * meta_data fields, and one policy name per policy Keylime enforces ({@code none} if none).
   */
  public static VerifierRecord verifierRecord(VerifierAgentStatus s) {
    return new VerifierRecord(s.attestationStatus().map(Enum::name), metaData(s), s.integrityPolicy().names());
  }

  /** The verifier's meta_data object, value fields as text (tenant-asserted, not TPM-attested). */
  static Map<String, String> metaData(VerifierAgentStatus s) {
    Map<String, String> m = new java.util.LinkedHashMap<>();
    if (s.metaData().isEmpty()) {
      return m;
    }
    try {
      Json n = Json.parse(s.metaData().get());
      if (n.isObject()) {
        n.members().forEach((k, v) -> {
          if (v.isValueNode()) {
            m.put(k, v.asText());
          }
        });
      }
    } catch (IOException e) {
      // not JSON: nothing is there, so every required key is missing and no meta selector is made
      LOG.warn("verifier meta_data is not a JSON object; no meta selectors", "agent_uuid", s.agentId());
    }
    return m;
  }
}
