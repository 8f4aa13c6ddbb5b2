package io.github.keylimeattestor.it;


import static io.github.keylimeattestor.it.KeylimeEndToEndIT.ours;
import static io.github.keylimeattestor.it.SpireProcess.msg;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.PushAttestation;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.keylime.emulator.KeylimeStack;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Keylime in push mode, whole chain: a real Keylime 7.14.3 verifier with {@code [verifier] mode = push} and its
 * registrar, swtpm, the emulator as a push agent (session with TPM proof of possession, then {@code POST}/{@code
 * PATCH /v3.0/agents/{id}/attestations} every {@code quote_interval} = 2 s), real SPIRE v1.15.3 and our plugins, the
 * agent plugin quoting with the push agent's AK from its {@code agent_data.json} ({@code quote_source = "tpm"}). The
 * node re-attests at least 35 times (agent_ttl 6 s); a node that stops pushing is refused (Unavailable) once stale;
 * a node whose pushed evidence fails (PCR 23 extended by tpm2-tools, against a tpm_policy that wants it zero) is
 * refused with PermissionDenied at its next re-attestation, and its spire-agent stops.
 *
 * <p>Run time: spire-agent checks its SVID every 5 s (SPIRE's fixed {@code DefaultRotatorInterval}), so 35
 * re-attestations take at least 175 s whatever agent_ttl is; the rest of the test adds about a minute.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PushModeIT {
  static final int REATTESTATIONS = Integer.getInteger("push.reattestations", 35);
  static final String MAX_AGE = "20s";

  final long started = System.nanoTime();
  final List<SpireProcess> spireAgents = new ArrayList<>();
  KeylimeStack stack;
  SpireTestbed bed;
  String uuid;
  KeylimeFixtures.Emulator node;
  String tcti;

  @BeforeAll
  void startEverything() throws Exception {
    stack = KeylimeStack.start(System.getProperty("keylime.workdir", "target/keylime-stack"),
        Map.of("STACK_VERIFIER_MODE", "push"));
    assertThat(stack.get("VERIFIER_MODE")).isEqualTo("push");
    tcti = "swtpm:host=127.0.0.1,port=" + stack.get("SWTPM_PORT");
    uuid = UUID.randomUUID().toString();
    node = KeylimeFixtures.startEnrolledPushEmulator(stack, uuid);
    KeylimeFixtures.awaitPass(stack, uuid, "the push verifier never passed the node: ");
    bed = new SpireTestbed();
    bed.startServer("  agent_ttl = \"" + KeylimeEndToEndIT.AGENT_TTL + "\"", KeylimeFixtures.serverNodeAttestor(
        KeylimeFixtures.stackConnection(stack) + """
                  ek_ca_bundle = "%s"
                  require_ek_cert = true
                  attestation_policy {
                    max_attestation_age = "%s"
                  }
                  pcr_policy {
                    pcrs = [23]
                  }
                  challenge_timeout = "30s"
            """.formatted(stack.get("EK_CA_BUNDLE"), MAX_AGE)));
    bed.awaitServerHealthy(Duration.ofSeconds(60));
    startSpireAgent("agent");
  }

  @AfterAll
  void stopEverything() throws Exception {
    KeylimeFixtures.stopAll("PushModeIT", started, spireAgents, bed, stack);
  }

  void startSpireAgent(String name) throws Exception {
    spireAgents.add(bed.startAgent(KeylimeFixtures.agentNodeAttestor("""
              tcti = "%s"
              agent_data_path = "%s"
              keylime_agent_uuid = "%s"
              app_key_path = "%s"
        """.formatted(tcti, node.dir().resolve("agent_data.json"), uuid, bed.dir.resolve("app-key.json"))),
        name, SpireTestbed.diskKeyManager(name)));
  }

  VerifierClient verifier() throws Exception {
    TlsSettings tls = TlsSettings.builder().caBundle(stack.path("KEYLIME_CA_CERT"))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null).build();
    return new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), tls));
  }

  VerifierAgentStatus awaitVerifier(Predicate<VerifierAgentStatus> condition, Duration timeout) throws Exception {
    VerifierClient v = verifier();
    try {
      // a KeylimeException: not enrolled yet
      return await("the verifier's status of " + uuid).atMost(timeout).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(300)).pollInSameThread().ignoreExceptionsInstanceOf(KeylimeException.class)
          .until(() -> v.getAgent(uuid), condition);
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\nemulator:\n" + stack.agentLog(uuid), e);
    }
  }


  List<JsonNode> refusals(String code) {
    return bed.server.entries(e -> ours("attestation refused").test(e) && e.path("code").asText().equals(code)
        && e.path("agent_uuid").asText().equals(uuid));
  }

  @Test
  @Order(1)
  void thePushVerifierJudgesTheNodeAndServesWhatTheGateReads() throws Exception {
    VerifierAgentStatus s = awaitVerifier(x -> x.attestationStatus().orElse(null) == AttestationStatus.PASS,
        Duration.ofSeconds(30));
    assertThat(s.isPushMode()).as("7.14.3: operational_state 3, ip and port null").isTrue();
    PushAttestation latest = verifier().latestPushAttestation(uuid).orElseThrow();
    assertThat(latest.evaluation()).isIn("pass", "pending");
    assertThat(latest.capabilitiesReceivedAt()).isPresent();
    assertThat(stack.agentLog(uuid)).contains("push session");
    // the first proof of possession may come before the tenant enrolled the node (refused, then a new session)
    KeylimeFixtures.awaitLog(stack, uuid, "pushed evidence 3", Duration.ofSeconds(30));
  }

  @Test
  @Order(2)
  void attestsAndReattestsManyTimesQuotingWithThePushAgentsAk() throws Exception {
    SpireProcess agent = spireAgents.get(0);
    agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    long t = System.nanoTime();
    agent.awaitEntries(msg("Successfully reattested node"), REATTESTATIONS, Duration.ofMinutes(4));
    System.err.printf("PushModeIT: %d re-attestations in %.1f s%n", REATTESTATIONS, (System.nanoTime() - t) / 1e9);
    assertThat(bed.server.entries(ours("node attested"))).hasSizeGreaterThanOrEqualTo(REATTESTATIONS + 1);
    assertThat(refusals("PERMISSION_DENIED")).isEmpty();
    // the second opinion: the push verifier's verify/identity checked every quote with its own copy of the AK
    String verifierLog = Files.readString(stack.dir.resolve("logs/verifier.log"));
    assertThat(verifierLog.split("Checking identity quote for agent " + uuid, -1).length - 1)
        .isGreaterThanOrEqualTo(REATTESTATIONS + 1);
    // meanwhile the node kept pushing and the verifier kept judging
    assertThat(verifierLog.split("for agent '" + uuid + "' successfully passed verification", -1).length - 1)
        .isGreaterThan(REATTESTATIONS);
  }

  @Test
  @Order(3)
  void aNodeThatStopsPushingIsRefusedOnceStaleAndAcceptedWhenItPushesAgain() throws Exception {
    KeylimeStack.kill(node.process());
    awaitVerifier(s -> s.attestationStatus().orElse(null) == AttestationStatus.TIMEOUT, Duration.ofSeconds(40));
    Instant stale = Instant.now();
    SpireProcess agent = spireAgents.get(0);
    bed.server.awaitEntries(e -> ours("attestation refused").test(e) && e.path("code").asText().equals("UNAVAILABLE")
        && e.path("agent_uuid").asText().equals(uuid) && (e.path("error").asText().contains("TIMEOUT")
            || e.path("error").asText().contains("older than max_attestation_age")), 1, Duration.ofSeconds(60));
    agent.awaitEntries(e -> e.toString().contains("Unavailable"), 1, Duration.ofSeconds(30));
    assertThat(refusals("PERMISSION_DENIED")).as("a stale node is not refused for good").isEmpty();
    System.err.printf("PushModeIT: refused %.1f s after Keylime's TIMEOUT%n",
        Duration.between(stale, Instant.now()).toMillis() / 1e3);
    agent.stop(Duration.ofSeconds(15));

    // Killed, the push agent left its AK loaded (as rust-keylime's does on a TPM without resource manager):
    // that slot is gone until flushed, and swtpm has 3. The operator's remedy, before the agent restarts:
    Tpm2Tools.run(tcti, stack.dir, "tpm2_flushcontext", "-t");
    // The same node pushes again (its AK reused from agent_data.json): TIMEOUT -> PASS, attested again.
    node = new KeylimeFixtures.Emulator(0, node.dir(), stack.startPushAgent(uuid, node.dir()));
    awaitVerifier(s -> s.attestationStatus().orElse(null) == AttestationStatus.PASS, Duration.ofSeconds(60));
    startSpireAgent("agent-again");
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
  }

  @Test
  @Order(4)
  void aNodeWhosePushedEvidenceFailsIsRefusedWithPermissionDeniedAtItsNextReattestation() throws Exception {
    SpireProcess agent = bed.agent;
    agent.awaitEntries(msg("Successfully reattested node"), 1, Duration.ofSeconds(60));
    Tpm2Tools.run(tcti, stack.dir, "tpm2_pcrextend", "23:sha256=" + "0".repeat(63) + "1");
    awaitVerifier(s -> s.attestationStatus().orElse(null) == AttestationStatus.FAIL, Duration.ofSeconds(30));
    PushAttestation latest = verifier().latestPushAttestation(uuid).orElseThrow();
    assertThat(latest.failed()).as("latest attestation: " + latest).isTrue();
    agent.awaitEntries(e -> e.path("msg").asText().contains("PermissionDenied")
        || e.path("error").asText().contains("PermissionDenied"), 1, Duration.ofSeconds(60));
    assertThat(agent.process().waitFor(60, TimeUnit.SECONDS)).as("spire-agent stops on PermissionDenied").isTrue();
    assertThat(refusals("PERMISSION_DENIED")).anyMatch(e -> e.path("error").asText().contains("push mode"));
  }
}
