package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VerifierClientTest {
  @TempDir Path tmp;
  Fixture fx;

  @BeforeEach
  void setUp() throws Exception {
    fx = new Fixture(tmp);
  }

  @Test
  void readsTheAttestationStatus() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "1.0", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "3.0");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("3", "PASS", 42, 1767225600.5));
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));

      VerifierAgentStatus st = c.getAgent(Fixture.UUID);

      assertThat(st.agentId()).isEqualTo(Fixture.UUID);
      assertThat(st.operationalState()).contains(OperationalState.GET_QUOTE);
      assertThat(st.operationalState().get().isAttesting()).isTrue();
      assertThat(st.isPushMode()).isFalse();
      assertThat(st.attestationStatus()).contains(AttestationStatus.PASS);
      assertThat(st.attestationCount()).isEqualTo(42);
      assertThat(st.lastSuccessfulAttestation()).contains(Instant.parse("2026-01-01T00:00:00.500Z"));
      assertThat(st.lastReceivedQuote()).isPresent();
      assertThat(st.hashAlg()).contains("sha256");
      assertThat(st.signAlg()).contains("rsassa");
      assertThat(st.encAlg()).contains("rsa");
      assertThat(st.verifierId()).contains("default");
      assertThat(st.severityLevel()).isEmpty();
      assertThat(st.lastEventId()).isEmpty();
      assertThat(st.tpmPolicy()).contains("{\"mask\": \"0x0\"}");
    }
  }

  @Test
  void failedAgentPushModeAndOldVerifiers() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));

      s.route("/v2.6/agents/" + Fixture.UUID, 200,
          Fixture.verifierRecord("7", "FAIL", 12, 1767225600)
              .replace("\"severity_level\":null,\"last_event_id\":null",
                  "\"severity_level\":6,\"last_event_id\":\"internal.verifier.not_reachable\""));
      VerifierAgentStatus failed = c.getAgent(Fixture.UUID);
      assertThat(failed.operationalState()).contains(OperationalState.FAILED);
      assertThat(failed.operationalState().get().isFailure()).isTrue();
      assertThat(failed.attestationStatus()).contains(AttestationStatus.FAIL);
      assertThat(failed.severityLevel()).contains(6L);
      assertThat(failed.lastEventId()).contains("internal.verifier.not_reachable");

      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("null", "PENDING", 0, 0));
      VerifierAgentStatus push = c.getAgent(Fixture.UUID);
      assertThat(push.isPushMode()).isTrue();
      assertThat(push.operationalState()).isEmpty();
      assertThat(push.lastSuccessfulAttestation()).isEmpty();
      assertThat(push.attestationStatus()).contains(AttestationStatus.PENDING);

      // Keylime < 7.14 has no attestation_status
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("3", null, 5, 1767225600));
      assertThat(c.getAgent(Fixture.UUID).attestationStatus()).isEmpty();
    }
  }

  @Test
  void aRegistrarAnsweringAsTheVerifierIsNamed() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.registrarRecord(Fixture.UUID, null, null));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOf(KeylimeMalformedResponseException.class)
          .hasMessageEndingWith("/v2.6/agents/" + Fixture.UUID + ": field 'attestation_count' is missing and the "
              + "answer carries a registrar's 'aik_tpm': this URL is a Keylime registrar, not the verifier; check "
              + "verifier_urls (the verifier listens on port 8881 by default)");
    }
  }

  @Test
  void unknownCodesAreMalformed() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("11", "PASS", 1, 1));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("operational_state");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("3", "MAYBE", 1, 1));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("attestation_status");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("\"3\"", "PASS", 1, 1));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("operational_state");
    }
  }

  @Test
  void verifyIdentityUrlEncodesItsParametersAndReadsTheVerdict() throws Exception {
    String quote = "r/1+AB==:c+d/E=:f==";
    String nonce = "a".repeat(64);
    AtomicReference<Map<String, String>> seen = new AtomicReference<>();
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/verify/identity", ex -> {
        Map<String, String> q = new LinkedHashMap<>();
        String raw = ex.getRequestURI().getRawQuery();
        // '+' must have travelled as %2B: a literal '+' would read back as a space
        assertThat(raw).doesNotContain("+").doesNotContain("/");
        for (String kv : raw.split("&")) {
          String[] p = kv.split("=", 2);
          q.put(p[0], URLDecoder.decode(p[1], StandardCharsets.UTF_8));
        }
        seen.set(q);
        boolean ok = q.get("nonce").equals(nonce);
        return new FakeKeylimeServer.Reply(200, ok
            ? "{\"code\":200,\"status\":\"Success\",\"results\":{\"valid\":1}}"
            : "{\"code\":200,\"status\":\"Success\",\"results\":{\"valid\":0,\"reason\":\"The nonce from the attestation differs from the expected nonce\"}}");
      });
      // verify/identity is public: no client certificate needed
      TlsSettings serverAuthOnly = TlsSettings.builder().caBundle(fx.keylimeCaPem).build();
      try (FakeKeylimeServer open = new FakeKeylimeServer(fx.server, null)) {
        open.keylimeVersion("2.6", "2.6");
        open.route("/v2.6/verify/identity", 200, "{\"results\":{\"valid\":true}}");
        assertThat(new VerifierClient(ClientSettings.of(open.uri(), serverAuthOnly))
            .verifyIdentity(Fixture.UUID, quote, nonce, "sha256").valid()).isTrue();
      }
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));

      IdentityVerification ok = c.verifyIdentity(Fixture.UUID, quote, nonce, "sha256");
      assertThat(ok.valid()).isTrue();
      assertThat(ok.reason()).isEmpty();
      assertThat(seen.get()).containsEntry("agent_uuid", Fixture.UUID).containsEntry("quote", quote)
          .containsEntry("nonce", nonce).containsEntry("hash_alg", "sha256");

      IdentityVerification bad = c.verifyIdentity(Fixture.UUID, quote, "wrong", "sha256");
      assertThat(bad.valid()).isFalse();
      assertThat(bad.reason()).hasValueSatisfying(r -> assertThat(r).contains("nonce"));
    }
  }

  @Test
  void verifyIdentityNeedsApi22AndAValidVerdict() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.1", "2.0", "2.1");
      VerifierClient old = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      assertThatThrownBy(() -> old.verifyIdentity(Fixture.UUID, "r1:2:3", "n", "sha256"))
          .isInstanceOf(KeylimeIncompatibleException.class).hasMessageContaining("2.2");
    }
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/verify/identity", 200, "{\"results\":{\"valid\":\"yes\"}}");
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      assertThatThrownBy(() -> c.verifyIdentity(Fixture.UUID, "r1:2:3", "n", "sha256"))
          .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("valid");
      // a failure names the endpoint, not the whole quote it was sent in the query
      String quote = "r" + "A".repeat(1500) + ":B:C";
      s.route("/v2.6/verify/identity", 500, "{\"code\":500,\"status\":\"boom\",\"results\":{}}");
      assertThatThrownBy(() -> c.verifyIdentity(Fixture.UUID, quote, "n", "sha256"))
          .isInstanceOf(KeylimeException.class).hasMessageContaining("/v2.6/verify/identity?...")
          .hasMessageNotContaining("AAAA").hasMessageNotContaining("quote=");
    }
  }

  @Test
  void aVerifierBackAsAnotherVersionIsNegotiatedAgainOnItsFirstRefusal() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      String record = Fixture.verifierRecord("3", "PASS", 3, 1767225600);
      s.keylimeVersion("2.6", "2.5", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, record);
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      assertThat(c.getAgent(Fixture.UUID).attestationCount()).isEqualTo(3);
      // rolled back to a verifier that serves 2.5 at most, with no failed request in between
      s.keylimeVersion("2.5", "2.5");
      s.route("/v2.6/agents/" + Fixture.UUID, 400,
          "{\"code\":400,\"status\":\"API version not supported: v2.6\",\"results\":{}}");
      s.route("/v2.5/agents/" + Fixture.UUID, 200, record);
      assertThat(c.getAgent(Fixture.UUID).attestationCount()).isEqualTo(3);
      assertThat(s.requests.stream().map(java.net.URI::getPath).toList()).containsExactly("/version",
          "/v2.6/agents/" + Fixture.UUID, "/v2.6/agents/" + Fixture.UUID, "/version", "/v2.5/agents/" + Fixture.UUID);
      // a 400 about something else is the answer, not a reason to negotiate again
      s.route("/v2.5/agents/" + Fixture.UUID, 400, "{\"code\":400,\"status\":\"Bad request\",\"results\":{}}");
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID)).isInstanceOf(KeylimeApiException.class);
      assertThat(s.requests).hasSize(6);
    }
  }

  @Test
  void pushModeVerifierAnswersVersionWithGone() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.route("/version", 410, "{\"code\":410,\"status\":\"Gone\",\"results\":{}}");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("null", "PASS", 3, 1767225600));
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      assertThat(c.getAgent(Fixture.UUID).isPushMode()).isTrue();
    }
  }

  /**
   * What a Keylime 7.14.3 verifier with {@code mode = push} answered for an agent enrolled with
   * {@code tenant -c add --push-model} (recorded 2026-12-01; evidence items cut): {@code /version} 410,
   * the v2 record with operational_state 3 but ip and port null, and the v3 latest attestation with
   * HTTP 201. The fake server stands in for it (a unit test); PushModeIT runs the real one.
   */
  @Test
  void pushModeAgentAndItsLatestAttestationAsKeylime7143AnswersThem() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.route("/version", 410, "{\"code\": 410, \"status\": \"Gone\", \"results\": {}}");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, FakeKeylimeServer.envelope("{\"operational_state\": 3, "
          + "\"v\": null, \"ip\": null, \"port\": null, \"tpm_policy\": \"{\\\"23\\\": [\\\"0x00\\\"], "
          + "\\\"mask\\\": \\\"0x800000\\\"}\", \"meta_data\": \"{}\", \"has_mb_refstate\": 0, "
          + "\"has_runtime_policy\": 0, \"hash_alg\": \"\", \"enc_alg\": \"\", \"sign_alg\": \"\", "
          + "\"verifier_id\": \"default\", \"severity_level\": null, \"last_event_id\": null, "
          + "\"attestation_count\": 51, \"last_received_quote\": 1796123220, "
          + "\"last_successful_attestation\": 1796123220, \"attestation_status\": \"TIMEOUT\", "
          + "\"attestation_period\": \"2s\", \"maximum_attestation_interval\": \"10s\"}"));
      String latest = "{\"data\": {\"type\": \"attestation\", \"attributes\": {\"stage\": "
          + "\"verification_complete\", \"evaluation\": \"fail\", \"evidence\": [], \"system_info\": "
          + "{\"boot_time\": \"2026-12-01T07:31:51.000000+00:00\"}, \"capabilities_received_at\": "
          + "\"2026-12-01T11:07:38.975405+00:00\", \"challenges_expire_at\": \"2026-12-01T11:37:38.975405+00:00\", "
          + "\"evidence_received_at\": \"2026-12-01T11:07:39.012865+00:00\"}}, \"links\": {\"self\": "
          + "\"/v3.0/agents/" + Fixture.UUID + "/attestations/latest\"}}";
      s.route("/v3.0/agents/" + Fixture.UUID + "/attestations/latest", 201, latest);
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));

      VerifierAgentStatus st = c.getAgent(Fixture.UUID);
      assertThat(st.operationalState()).contains(OperationalState.GET_QUOTE);
      assertThat(st.isPushMode()).as("ip and port null: Keylime's own push-mode rule").isTrue();
      assertThat(st.attestationStatus()).contains(AttestationStatus.TIMEOUT);

      PushAttestation a = c.latestPushAttestation(Fixture.UUID).orElseThrow();
      assertThat(a.complete()).isTrue();
      assertThat(a.failed()).isTrue();
      assertThat(a.passed()).isFalse();
      assertThat(a.evidenceReceivedAt()).contains(Instant.parse("2026-12-01T11:07:39.012865Z"));
      assertThat(a.capabilitiesReceivedAt()).contains(Instant.parse("2026-12-01T11:07:38.975405Z"));

      s.route("/v3.0/agents/" + Fixture.UUID + "/attestations/latest", 404, "{\"errors\": [{\"status\": \"404\", "
          + "\"code\": \"not_found\", \"detail\": \"No attestation exists for agent '" + Fixture.UUID + "'.\"}]}");
      assertThat(c.latestPushAttestation(Fixture.UUID)).isEmpty();

      s.route("/v3.0/agents/" + Fixture.UUID + "/attestations/latest", 201,
          latest.replace("verification_complete", "judged"));
      assertThatThrownBy(() -> c.latestPushAttestation(Fixture.UUID))
          .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("stage");
    }
  }

  @Test
  void aBare404IsAWrongUrlNotAnAgentKeylimeDoesNotKnow() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      // verifier_urls with a path prefix Keylime does not serve: /version is not there
      s.route("/api/version", 404, "");
      URI wrong = URI.create(s.uri() + "/api");
      assertThatThrownBy(() -> new VerifierClient(ClientSettings.of(wrong, fx.tls())).getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeIncompatibleException.class, e -> assertThat(e.getMessage())
              .contains("answered /version with HTTP 404").contains("base URL (https://host:port, no path)"));
      // the same with the API version pinned (no /version call): a bare 404 is not "agent not found"
      s.route("/api/v2.6/agents/" + Fixture.UUID, 404, "<html>404: Not Found</html>");
      VerifierClient pinned = new VerifierClient(ClientSettings.of(wrong, fx.tls()).withApiVersion(ApiVersion.parse("2.6")));
      assertThatThrownBy(() -> pinned.getAgent(Fixture.UUID)).isInstanceOfSatisfying(KeylimeApiException.class, e -> {
        assertThat(e.isNotFound()).isFalse();
        assertThat(e.getMessage()).contains("not Keylime's JSON answer");
      });
      // Keylime's own 404 about the agent is
      s.route("/api/v2.6/agents/" + Fixture.UUID, 404, "{\"code\": 404, \"status\": \"agent id not found\", \"results\": {}}");
      assertThatThrownBy(() -> pinned.getAgent(Fixture.UUID)).isInstanceOfSatisfying(KeylimeApiException.class,
          e -> assertThat(e.isNotFound()).isTrue());
    }
  }
}
