package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.net.URI;
import org.junit.jupiter.api.Test;

/** What Keylime enforces for a node, read from a real Keylime 7.14.3 agent record and variants of it. */
class IntegrityPolicyTest {
  static final ObjectMapper JSON = new ObjectMapper();

  static ObjectNode recordedRecord() throws Exception {
    try (InputStream in = IntegrityPolicyTest.class.getResourceAsStream("/keylime-7.14.3/verifier-bulk-pass.json")) {
      ObjectNode results = (ObjectNode) JSON.readTree(in).get("results");
      return (ObjectNode) results.elements().next();
    }
  }

  static IntegrityPolicy policy(ObjectNode record) throws Exception {
    return IntegrityPolicy.parse(new Fields(record, URI.create("https://verifier.test"), "test record"));
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
    ObjectNode r = recordedRecord();
    r.put("tpm_policy", "{\"mask\": \"0x408000\"}");
    assertThat(policy(r).names()).containsExactly("none");
    r.put("tpm_policy", "{\"mask\": \"0x408000\", \"15\": [\"" + "00".repeat(32) + "\"]}");
    assertThat(policy(r).names()).containsExactly("tpm");
    r.put("tpm_policy", "{\"mask\": \"0x408000\", \"15\": []}");
    assertThat(policy(r).names()).containsExactly("none");
  }

  @Test
  void measuredBootAndRuntimePoliciesAreReportedByTheirFlags() throws Exception {
    ObjectNode r = recordedRecord();
    r.put("has_mb_refstate", 1);
    assertThat(policy(r).names()).containsExactly("measured_boot");
    r.put("has_runtime_policy", 1);
    r.put("tpm_policy", "{\"mask\": \"0x1\", \"0\": [\"" + "ab".repeat(32) + "\"]}");
    assertThat(policy(r).names()).containsExactly("tpm", "measured_boot", "runtime");
  }

  @Test
  void aRecordWithoutPolicyFieldsIsUnknownAndMalformedPolicyTextIsRefused() throws Exception {
    ObjectNode r = recordedRecord();
    r.remove("tpm_policy");
    r.remove("has_mb_refstate");
    r.remove("has_runtime_policy");
    assertThat(policy(r)).isEqualTo(IntegrityPolicy.UNKNOWN);
    assertThat(policy(r).names()).isEmpty();
    ObjectNode bad = recordedRecord();
    bad.put("tpm_policy", "{mask");
    assertThatThrownBy(() -> policy(bad)).isInstanceOf(KeylimeMalformedResponseException.class)
        .hasMessageContaining("tpm_policy");
  }

  @Test
  void theBulkAnswerCarriesThePolicyToo() throws Exception {
    try (InputStream in = IntegrityPolicyTest.class.getResourceAsStream("/keylime-7.14.3/verifier-bulk-pass.json")) {
      VerifierBulkStatus b = VerifierBulkStatus.read(URI.create("https://verifier.test"), JSON.createParser(in));
      assertThat(b.agents().values()).allSatisfy(s -> assertThat(s.integrityPolicy().names()).containsExactly("none"));
    }
  }
}
