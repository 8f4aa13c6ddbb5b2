package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The verifier's bulk status, from answers recorded from a real Keylime 7.14.3 verifier. */
class VerifierBulkStatusTest {
  static final String RECORDED_UUID = "7d0a5d5e-4c3a-4b64-9a40-0c1f5e1d2a01";
  @TempDir Path tmp;
  Fixture fx;

  @BeforeEach
  void setUp() throws Exception {
    fx = new Fixture(tmp);
  }

  static String recorded(String name) throws IOException {
    try (InputStream in = VerifierBulkStatusTest.class.getResourceAsStream("/keylime-7.14.3/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void readsEveryAgentOfARecordedAnswerAndSendsKeylimesFilter() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.5", "2.5");
      s.route("/v2.5/agents/", 200, recorded("verifier-bulk-pass.json"));
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));

      VerifierBulkStatus all = c.getAgentsBulk(Optional.of("default"), 1 << 20);

      assertThat(all.unreadable()).isEmpty();
      VerifierAgentStatus a = all.agents().get(RECORDED_UUID);
      assertThat(a.agentId()).isEqualTo(RECORDED_UUID);
      assertThat(a.operationalState()).contains(OperationalState.GET_QUOTE);
      assertThat(a.attestationStatus()).contains(AttestationStatus.PASS);
      assertThat(a.verifierId()).contains("default");
      assertThat(s.requests).anyMatch(u -> u.getPath().equals("/v2.5/agents/")
          && u.getQuery().equals("bulk=true&verifier=default"));
    }
  }

  @Test
  void aFailedAgentAndAnEmptyAnswer() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.5", "2.5");
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      s.route("/v2.5/agents/", 200, recorded("verifier-bulk-failed.json"));
      VerifierAgentStatus a = c.getAgentsBulk(Optional.empty(), 1 << 20).agents().get(RECORDED_UUID);
      assertThat(a.operationalState()).contains(OperationalState.FAILED);
      assertThat(a.attestationStatus()).contains(AttestationStatus.FAIL);
      assertThat(a.lastEventId()).contains("internal.verifier.not_reachable");
      assertThat(s.requests).anyMatch(u -> "bulk=true".equals(u.getQuery()));

      s.route("/v2.5/agents/", 200, recorded("verifier-bulk-other-verifier.json"));
      VerifierBulkStatus none = c.getAgentsBulk(Optional.of("other"), 1 << 20);
      assertThat(none.agents()).isEmpty();
      assertThat(none.unreadable()).isEmpty();
    }
  }

  @Test
  void anOddRecordIsKeptApartAndHidesNoOther() throws Exception {
    String pass = recorded("verifier-bulk-pass.json");
    String record = pass.substring(pass.indexOf("{\"operational_state\""), pass.lastIndexOf("}}"));
    String odd = "5f1e6c2a-0000-4000-8000-00000000000a";
    String twice = "5f1e6c2a-0000-4000-8000-00000000000b";
    String repeatedField = "5f1e6c2a-0000-4000-8000-00000000000c";
    String repeatedAsObject = "5f1e6c2a-0000-4000-8000-00000000000d";
    String stateAsList = "5f1e6c2a-0000-4000-8000-00000000000e";
    String body = "{\"code\": 200, \"status\": \"Success\", \"results\": {\"" + odd + "\": "
        + record.replace("\"operational_state\": 3", "\"operational_state\": 42") + ", \"" + RECORDED_UUID + "\": "
        + record + ", \"" + twice + "\": " + record + ", \"" + twice + "\": "
        + record.replace("\"operational_state\": 3", "\"operational_state\": 7") + ", \"" + repeatedField + "\": "
        + record.replace("\"operational_state\": 3", "\"operational_state\": 3, \"operational_state\": 7") + ", \""
        + repeatedAsObject + "\": "
        + record.replace("\"operational_state\": 3", "\"operational_state\": {}, \"operational_state\": 3") + ", \""
        + stateAsList + "\": " + record.replace("\"operational_state\": 3", "\"operational_state\": [7]") + "}}";
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.5", "2.5");
      s.route("/v2.5/agents/", 200, body);
      VerifierBulkStatus all = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()))
          .getAgentsBulk(Optional.empty(), 1 << 20);
      assertThat(all.agents()).containsOnlyKeys(RECORDED_UUID);
      assertThat(all.unreadable()).containsOnlyKeys(odd, twice, repeatedField, repeatedAsObject, stateAsList);
      assertThat(all.unreadable().get(odd)).contains("operational_state");
      // repeated keys are ambiguous: neither reading is trusted
      assertThat(all.unreadable().get(twice)).contains("appears twice");
      assertThat(all.unreadable().get(repeatedField)).contains("'operational_state' appears twice");
      assertThat(all.unreadable().get(repeatedAsObject)).contains("'operational_state' appears twice");
      // not taken for a record without a state (push mode)
      assertThat(all.unreadable().get(stateAsList)).contains("operational_state");
    }
  }

  /**
   * verifier_urls naming the registrar: its agent list answers the same path with {"uuids": [...]},
   * under which every watched node would look deleted. Refused whole.
   */
  @Test
  void theRegistrarsAgentListIsNoBulkStatus() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.5", "2.5");
      s.route("/v2.5/agents/", 200, "{\"code\": 200, \"status\": \"Success\", \"results\": {\"uuids\": [\""
          + RECORDED_UUID + "\"]}}");
      assertThatThrownBy(() -> new VerifierClient(ClientSettings.of(s.uri(), fx.tls()))
          .getAgentsBulk(Optional.empty(), 1 << 20)).isInstanceOf(KeylimeMalformedResponseException.class)
          .hasMessageContaining("'uuids'").hasMessageContaining("not the registrar");
    }
  }

  @Test
  void aBodyOverTheLimitOrWithoutResultsIsRefused() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.5", "2.5");
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      s.route("/v2.5/agents/", 200, recorded("verifier-bulk-pass.json"));
      assertThatThrownBy(() -> c.getAgentsBulk(Optional.empty(), 100))
          .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("larger than 100 bytes");
      s.route("/v2.5/agents/", 200, "{\"code\": 200, \"status\": \"Success\"}");
      assertThatThrownBy(() -> c.getAgentsBulk(Optional.empty(), 1 << 20))
          .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("no 'results'");
      s.route("/v2.5/agents/", 405, "{\"code\": 405, \"status\": \"Method Not Allowed\"}");
      assertThatThrownBy(() -> c.getAgentsBulk(Optional.empty(), 1 << 20))
          .isInstanceOfSatisfying(KeylimeApiException.class, e -> assertThat(e.httpStatus()).isEqualTo(405));
    }
  }

  /** Data after the answer, and millions of made-up records, each kept as unreadable, are refused. */
  @Test
  void trailingDataAndMoreRecordsThanTheSizeAllowsAreRefused() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.5", "2.5");
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      s.route("/v2.5/agents/", 200, recorded("verifier-bulk-pass.json") + " {{{");
      assertThatThrownBy(() -> c.getAgentsBulk(Optional.empty(), 1 << 20))
          .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("data after its JSON object");
      StringBuilder tiny = new StringBuilder("{\"code\": 200, \"status\": \"Success\", \"results\": {");
      for (int i = 0; i <= VerifierBulkStatus.MAX_RECORDS; i++) {
        tiny.append(i == 0 ? "" : ",").append('"').append(i).append("\":{}");
      }
      s.route("/v2.5/agents/", 200, tiny.append("}}").toString());
      assertThatThrownBy(() -> c.getAgentsBulk(Optional.empty(), 16 << 20))
          .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("more than 50000 records");
      // below the cap: each unreadable, the first hundred with their own reason, the rest sharing one
      StringBuilder some = new StringBuilder("{\"code\": 200, \"status\": \"Success\", \"results\": {");
      for (int i = 0; i < 300; i++) {
        some.append(i == 0 ? "" : ",").append('"').append(i).append("\":{}");
      }
      s.route("/v2.5/agents/", 200, some.append("}}").toString());
      VerifierBulkStatus all = c.getAgentsBulk(Optional.empty(), 1 << 20);
      assertThat(all.agents()).isEmpty();
      assertThat(all.unreadable()).hasSize(300);
      assertThat(all.unreadable().values().stream().distinct().count()).isLessThanOrEqualTo(
          VerifierBulkStatus.REASONS_KEPT + 1L);
    }
  }
}
