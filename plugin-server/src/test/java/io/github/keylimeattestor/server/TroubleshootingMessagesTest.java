package io.github.keylimeattestor.server;

import static io.github.keylimeattestor.server.StatusPolicyTest.NOW;
import static io.github.keylimeattestor.server.StatusPolicyTest.config;
import static io.github.keylimeattestor.server.StatusPolicyTest.status;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.sovereign.EvidenceException;
import io.github.keylimeattestor.sovereign.KeylimeAgentId;
import io.grpc.StatusException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The server plugin's messages quoted in docs/troubleshooting.md, word for word (the distribution
 * module's TroubleshootingDocTest checks that every quoted message is in the test it names).
 */
class TroubleshootingMessagesTest {

  /** The default policy refuses the retry state the verifier enters when it cannot reach the node. */
  @Test
  void aKeylimeAgentTheVerifierCannotReach() {
    assertThatThrownBy(() -> StatusPolicy.check(config(true, ServerConfig.DEFAULT_MAX_ATTESTATION_AGE),
        status(OperationalState.GET_QUOTE_RETRY, AttestationStatus.PASS, NOW.minusSeconds(30)), NOW))
        .isInstanceOf(StatusException.class)
        .hasMessage("UNAVAILABLE: the Keylime verifier reports agent u-1 as 'Get Quote (retry)', not (yet) in an "
            + "accepted state [GET_QUOTE, PROVIDE_V]: the verifier cannot reach the node right now (check the node "
            + "and its Keylime agent; attestation_policy.accepted_states can list get_quote_retry, within "
            + "max_attestation_age)");
  }

  /** Still in Get Quote (the verifier has not yet noticed), but its last success is old. */
  @Test
  void aKeylimeAgentThatDiedAfterOneQuoteLeavesAStaleAttestation() {
    assertThatThrownBy(() -> StatusPolicy.check(config(true, Duration.ofMinutes(1)),
        status(OperationalState.GET_QUOTE, AttestationStatus.PASS, NOW.minusSeconds(300)), NOW))
        .isInstanceOf(StatusException.class)
        .hasMessage("UNAVAILABLE: the Keylime verifier's last successful attestation of agent u-1 is from "
            + "2026-11-23T11:55:00Z, older than max_attestation_age 1m");
  }

  @Test
  void aNodeKeylimeMarkedFailed() {
    assertThatThrownBy(() -> StatusPolicy.check(config(true, null),
        status(OperationalState.FAILED, AttestationStatus.FAIL, NOW), NOW))
        .isInstanceOf(StatusException.class)
        .hasMessage("PERMISSION_DENIED: the Keylime verifier reports agent u-1 as 'Failed' (last event "
            + "internal.verifier.not_reachable): the node failed attestation; investigate it in Keylime before "
            + "re-enrolling");
  }

  @Test
  void twoNodesWithKeylimesDefaultUuid() {
    assertThatThrownBy(() -> KeylimeAgentId.parse("d432fbb3-d2f1-4a97-9ef7-75bd81c00000"))
        .isInstanceOf(EvidenceException.class)
        .hasMessageContaining("the node uses Keylime's default agent UUID d432fbb3-d2f1-4a97-9ef7-75bd81c00000: give "
            + "each Keylime agent its own uuid (or uuid = \"hash_ek\") in its agent.conf");
  }

  /** Push mode: the node's push agent stopped; the verifier's own timer has fired. */
  @Test
  void aPushAgentThatStoppedPushing() {
    assertThatThrownBy(() -> PushStatusPolicy.check(config(true, ServerConfig.DEFAULT_MAX_ATTESTATION_AGE),
        PushStatusPolicyTest.push(AttestationStatus.TIMEOUT, NOW.minusSeconds(30)),
        PushStatusPolicyTest.latest("verification_complete", "pass", NOW.minusSeconds(30)), NOW))
        .isInstanceOf(StatusException.class)
        .hasMessage("UNAVAILABLE: the Keylime verifier (push mode) reports agent u-1 as TIMEOUT: no evidence arrived "
            + "within its maximum attestation interval (5 x quote_interval); last successful attestation "
            + NOW.minusSeconds(30) + ". Check keylime_push_model_agent on the node and its route to the verifier");
  }
}
