package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What Keylime enforces for a node, read from a real Keylime 7.14.3 agent record and variants of it. */
class IntegrityPolicyTest {
  /** The first record of the recorded bulk answer, as a map to vary. */
  static Map<String, Json> recordedRecord() throws Exception {
    try (InputStream in = IntegrityPolicyTest.class.getResourceAsStream("/keylime-7.14.3/verifier-bulk-pass.json")) {
      Json results = Json.parse(in.readAllBytes()).get("results");
      return new LinkedHashMap<>(results.members().values().iterator().next().members());
    }
  }

  static IntegrityPolicy policy(Map<String, Json> record) throws Exception {
    return IntegrityPolicy.parse(new Fields(Json.object(record), URI.create("https://verifier.test"), "test record"));
  }

  @Test
  void theRecordedEnrolmentWithMaskZeroEnforcesNothing() throws Exception {
    IntegrityPolicy p = policy(recordedRecord());
    assertThat(p.known()).isTrue();
    assertThat(p.enforcesAny()).isFalse();
    assertThat(p.names()).containsExactly("none");
  }

  @Test
  void aMaskAloneIsNoPolicyButGoldenValuesAre() throws Exception {
    Map<String, Json> r = recordedRecord();
    r.put("tpm_policy", Json.string("{\"mask\": \"0x408000\"}"));
    assertThat(policy(r).names()).containsExactly("none");
    r.put("tpm_policy", Json.string("{\"mask\": \"0x408000\", \"15\": [\"" + "00".repeat(32) + "\"]}"));
    assertThat(policy(r).names()).containsExactly("tpm");
    r.put("tpm_policy", Json.string("{\"mask\": \"0x408000\", \"15\": []}"));
    assertThat(policy(r).names()).containsExactly("none");
  }

  @Test
  void measuredBootAndRuntimePoliciesAreReportedByTheirFlags() throws Exception {
    Map<String, Json> r = recordedRecord();
    r.put("has_mb_refstate", Json.number(1));
    assertThat(policy(r).names()).containsExactly("measured_boot");
    r.put("has_runtime_policy", Json.number(1));
    r.put("tpm_policy", Json.string("{\"mask\": \"0x1\", \"0\": [\"" + "ab".repeat(32) + "\"]}"));
    assertThat(policy(r).names()).containsExactly("tpm", "measured_boot", "runtime");
  }

  @Test
  void aRecordWithoutPolicyFieldsIsUnknownAndMalformedPolicyTextIsRefused() throws Exception {
    Map<String, Json> r = recordedRecord();
    r.remove("tpm_policy");
    r.remove("has_mb_refstate");
    r.remove("has_runtime_policy");
    assertThat(policy(r)).isEqualTo(IntegrityPolicy.UNKNOWN);
    assertThat(policy(r).names()).isEmpty();
    Map<String, Json> bad = recordedRecord();
    bad.put("tpm_policy", Json.string("{mask"));
    assertThatThrownBy(() -> policy(bad)).isInstanceOf(KeylimeMalformedResponseException.class)
        .hasMessageContaining("tpm_policy");
  }

  @Test
  void theBulkAnswerCarriesThePolicyToo() throws Exception {
    try (InputStream in = IntegrityPolicyTest.class.getResourceAsStream("/keylime-7.14.3/verifier-bulk-pass.json")) {
      VerifierBulkStatus b = VerifierBulkStatus.read(URI.create("https://verifier.test"), Json.FACTORY.createParser(in));
      assertThat(b.agents().values()).allSatisfy(s -> assertThat(s.integrityPolicy().names()).containsExactly("none"));
    }
  }
}
