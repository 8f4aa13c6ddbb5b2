package io.github.keylimeattestor.keylime;

import java.time.Instant;
import java.util.Optional;

/**
 * The verifier's view of an enrolled agent ({@code GET /v2.x/agents/{uuid}}).
 *
 * @param agentId the UUID asked for (the verifier's answer does not repeat it)
 * @param operationalState empty for push-mode agents (Keylime sends null)
 * @param attestationStatus empty before Keylime 7.14.0
 * @param lastSuccessfulAttestation empty if never (Keylime sends 0)
 * @param lastReceivedQuote empty if never
 * @param attestationCount successful attestations so far
 * @param hashAlg the TPM hash algorithm the agent reported ({@code hash_alg}); empty if unknown
 * @param severityLevel set after a failure
 * @param lastEventId e.g. {@code internal.verifier.not_reachable} after a failure
 * @param verifierId the verifier instance that holds the agent
 * @param tpmPolicy the TPM policy as JSON text
 * @param metaData tenant-supplied metadata as JSON text (tenant-asserted, not TPM-attested)
 * @param integrityPolicy what Keylime checks for the node (TPM policy, measured boot, runtime)
 * @param pushMode the agent pushes its evidence (API v3), by Keylime's own rule ({@code
 *     agent_util.is_push_mode_agent}): {@code operational_state} null, or {@code ip} and {@code port}
 *     both null. A 7.14.3 push-mode verifier reports {@code operational_state} 3 (Get Quote) for its
 *     agents, with {@code ip} and {@code port} null: the state says nothing about them.
 */
public record VerifierAgentStatus(
    String agentId,
    Optional<OperationalState> operationalState,
    Optional<AttestationStatus> attestationStatus,
    Optional<Instant> lastSuccessfulAttestation,
    Optional<Instant> lastReceivedQuote,
    long attestationCount,
    Optional<String> hashAlg,
    Optional<String> signAlg,
    Optional<String> encAlg,
    Optional<Long> severityLevel,
    Optional<String> lastEventId,
    Optional<String> verifierId,
    Optional<String> tpmPolicy,
    Optional<String> metaData,
    IntegrityPolicy integrityPolicy,
    boolean pushMode) {

  /** Push mode judged by {@code operational_state} alone (null: push). */
  public VerifierAgentStatus(String agentId, Optional<OperationalState> operationalState,
      Optional<AttestationStatus> attestationStatus, Optional<Instant> lastSuccessfulAttestation,
      Optional<Instant> lastReceivedQuote, long attestationCount, Optional<String> hashAlg, Optional<String> signAlg,
      Optional<String> encAlg, Optional<Long> severityLevel, Optional<String> lastEventId, Optional<String> verifierId,
      Optional<String> tpmPolicy, Optional<String> metaData, IntegrityPolicy integrityPolicy) {
    this(agentId, operationalState, attestationStatus, lastSuccessfulAttestation, lastReceivedQuote, attestationCount,
        hashAlg, signAlg, encAlg, severityLevel, lastEventId, verifierId, tpmPolicy, metaData, integrityPolicy,
        operationalState.isEmpty());
  }

  /** Without the integrity policy (unknown). */
  public VerifierAgentStatus(String agentId, Optional<OperationalState> operationalState,
      Optional<AttestationStatus> attestationStatus, Optional<Instant> lastSuccessfulAttestation,
      Optional<Instant> lastReceivedQuote, long attestationCount, Optional<String> hashAlg, Optional<String> signAlg,
      Optional<String> encAlg, Optional<Long> severityLevel, Optional<String> lastEventId, Optional<String> verifierId,
      Optional<String> tpmPolicy, Optional<String> metaData) {
    this(agentId, operationalState, attestationStatus, lastSuccessfulAttestation, lastReceivedQuote, attestationCount,
        hashAlg, signAlg, encAlg, severityLevel, lastEventId, verifierId, tpmPolicy, metaData, IntegrityPolicy.UNKNOWN);
  }

  /** Push mode: see {@code pushMode}; {@code operational_state} is then not the agent's state. */
  public boolean isPushMode() {
    return pushMode;
  }

  static VerifierAgentStatus parse(Fields f, String agentId)
      throws KeylimeMalformedResponseException {
    Optional<OperationalState> state = Optional.empty();
    Optional<Long> code = f.optInteger("operational_state");
    if (code.isPresent()) {
      state = OperationalState.fromCode(code.get());
      if (state.isEmpty()) {
        throw f.bad("operational_state", "has an unknown code " + code.get(), null);
      }
    }
    Optional<AttestationStatus> status = Optional.empty();
    Optional<String> statusText = f.optString("attestation_status");
    if (statusText.isPresent()) {
      status = AttestationStatus.fromString(statusText.get());
      if (status.isEmpty()) {
        throw f.bad("attestation_status", "has an unknown value '" + statusText.get() + "'", null);
      }
    }
    if (f.isNullOrAbsent("attestation_count") && !f.isNullOrAbsent("aik_tpm")) {
      throw f.bad("attestation_count", "is missing and the answer carries a registrar's 'aik_tpm': this URL is a "
          + "Keylime registrar, not the verifier; check verifier_urls (the verifier listens on port 8881 by default)",
          null);
    }
    long count = f.integer("attestation_count");
    if (count < 0) {
      throw f.bad("attestation_count", "is negative", null);
    }
    return new VerifierAgentStatus(
        agentId,
        state,
        status,
        f.optEpochSeconds("last_successful_attestation"),
        f.optEpochSeconds("last_received_quote"),
        count,
        nonEmpty(f.optString("hash_alg")),
        nonEmpty(f.optString("sign_alg")),
        nonEmpty(f.optString("enc_alg")),
        f.optInteger("severity_level"),
        f.optString("last_event_id"),
        f.optString("verifier_id"),
        f.optString("tpm_policy"),
        f.optString("meta_data"),
        IntegrityPolicy.parse(f),
        state.isEmpty() || (f.isNullOrAbsent("ip") && f.isNullOrAbsent("port")));
  }

  private static Optional<String> nonEmpty(Optional<String> s) {
    return s.filter(x -> !x.isEmpty());
  }
}
