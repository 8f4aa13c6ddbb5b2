package io.github.keylimeattestor.keylime;

/**
 * A Keylime agent's {@code GET /v2.x/agent/info} (agent API 2.2+).
 *
 * @param akHandle the ESYS resource handle inside the agent process; meaningless to others
 */
public record AgentInfo(
    String agentUuid, String tpmHashAlg, String tpmEncAlg, String tpmSignAlg, long akHandle) {

  static AgentInfo parse(Fields f) throws KeylimeMalformedResponseException {
    long handle;
    if (f.node().path("ak_handle").isTextual()) {
      String s = f.string("ak_handle");
      try {
        handle = s.startsWith("0x") ? Long.parseLong(s.substring(2), 16) : Long.parseLong(s);
      } catch (NumberFormatException e) {
        throw f.bad("ak_handle", "is not a number", e);
      }
    } else {
      handle = f.integer("ak_handle");
    }
    return new AgentInfo(
        f.string("agent_uuid"), f.string("tpm_hash_alg"), f.string("tpm_enc_alg"),
        f.string("tpm_sign_alg"), handle);
  }
}
