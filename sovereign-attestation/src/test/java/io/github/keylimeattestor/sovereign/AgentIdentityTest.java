package io.github.keylimeattestor.sovereign;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.AlgorithmPolicy;
import io.github.keylimeattestor.tpm.TpmVerifier;
import io.github.keylimeattestor.tpm.testing.TraceScenarios;
import io.github.keylimeattestor.tpm.transport.ReplayTransport;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The agent ID and selectors as a pure function of a verified node, on real bytes: the EK, EK
 * certificate, AK, App Key and quote that swtpm produced in tpm's {@code traces/quote_certify.trace}
 * (replayed, no TPM needed). The expected hashes were computed outside our code: {@code openssl x509
 * -pubkey | openssl pkey -pubin -outform DER | sha256sum} of the trace's EK certificate, and {@code
 * tpm2_print -t TPM2B_PUBLIC -f pem | openssl pkey -pubin -outform DER | sha256sum} of its App Key.
 */
class AgentIdentityTest {
  static final String EK_SPKI_SHA256 = "ec3f3b313ae693c46cb1aab958c15bb58f9cb9972dc0cf10bea61af3df9ed760";
  static final String APP_KEY_SPKI_SHA256 = "d6b517cf42f1f981be3b94a0126deff1393efefd8167537e54650648689ea9bf";
  static final String UUID = "0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10";
  static final String ZERO_PCR = "00".repeat(32);
  static final VerifierRecord KEYLIME = new VerifierRecord(Optional.of("PASS"),
      Map.of("env", "prod", "rack", "r7", "owner", "someone"), List.of("tpm"));

  static TraceScenarios.QuoteCertify qc;
  static X509Certificate ekCert;
  static TpmVerifier.VerifiedQuote quote;

  @BeforeAll
  static void replay() throws Exception {
    try (InputStream in = AgentIdentityTest.class.getResourceAsStream("/traces/quote_certify.trace")) {
      ReplayTransport t = ReplayTransport.parse(new String(in.readAllBytes(), StandardCharsets.US_ASCII));
      qc = TraceScenarios.quoteCertify(TraceScenarios.tpm(t));
      assertThat(t.finished()).isTrue();
    }
    ekCert = (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(qc.ekCert()));
    quote = TpmVerifier.forAk(qc.ak().publicArea(), AlgorithmPolicy.STRICT)
        .verifyQuote(qc.evidence().quote(), TraceScenarios.NONCE);
  }

  static VerifiedNode node(EkCertificate.Result ek) throws Exception {
    return new VerifiedNode(new KeylimeAgentId(UUID), TpmKey.of(qc.ak().publicArea()), TpmKey.of(qc.app().publicArea()),
        TpmKey.of(qc.ek()), ek, quote.attest(), quote.pcrs(), List.of(), KEYLIME);
  }

  static EkCertificate.Result verifiedEkCertificate() throws Exception {
    return EkCertificate.Result.verified(EkCertificate.tpmInfo(ekCert));
  }

  static AgentIdentity.Policy policy(String template, Set<Integer> pcrs, Set<String> meta) {
    return new AgentIdentity.Policy("keylime", "example.org", AgentPathTemplate.parse(template), pcrs, meta);
  }

  @Test
  void theDefaultIdIsTheUuidAndEverySelectorComesFromTheNodeInOrder() throws Exception {
    AgentIdentity id = AgentIdentity.of(node(EkCertificate.Result.NOT_CHECKED),
        policy(AgentPathTemplate.DEFAULT, Set.of(), Set.of()));
    assertThat(id.spiffeId()).isEqualTo("spiffe://example.org/spire/agent/keylime/" + UUID);
    assertThat(id.selectors()).containsExactly("uuid:" + UUID, "ek_hash:" + EK_SPKI_SHA256,
        "app_key:" + APP_KEY_SPKI_SHA256, "attestation_status:pass", "policy:tpm");
  }

  @Test
  void tpmSelectorsAndTemplateFieldsComeOnlyFromAVerifiedEkCertificate() throws Exception {
    AgentIdentity.Policy byModel = policy("/{{ .PluginName }}/{{ .TPMModel }}/{{ .UUID }}", Set.of(), Set.of());
    AgentIdentity id = AgentIdentity.of(node(verifiedEkCertificate()), byModel);
    assertThat(id.spiffeId()).isEqualTo("spiffe://example.org/spire/agent/keylime/swtpm/" + UUID);
    assertThat(id.selectors()).containsSubsequence("app_key:" + APP_KEY_SPKI_SHA256,
        "tpm:manufacturer:id:00001014", "tpm:model:swtpm", "tpm:version:id:20191023", "tpm:firmware:2019102300163636",
        "attestation_status:pass");

    for (EkCertificate.Result unproven : List.of(EkCertificate.Result.NOT_CHECKED, EkCertificate.Result.ABSENT,
        EkCertificate.Result.refused("the EK certificate does not chain"))) {
      VerifiedNode n = node(unproven);
      assertThat(AgentIdentity.of(n, policy(AgentPathTemplate.DEFAULT, Set.of(), Set.of())).selectors())
          .noneMatch(s -> s.startsWith("tpm:"));
      assertThatThrownBy(() -> AgentIdentity.of(n, byModel)).isInstanceOfSatisfying(EvidenceException.class, e -> {
        assertThat(e.check()).isEqualTo("agent_path");
        assertThat(e.kind()).isEqualTo(EvidenceException.Kind.REJECTED);
        assertThat(e.getMessage()).contains("needs .TPMModel");
      });
    }
  }

  @Test
  void theFirmwareSelectorIsTheVersionTheTpmSignedIntoTheQuote() throws Exception {
    // swtpm_setup wrote the TPM's TPM_PT_FIRMWARE_VERSION_1 into the EK certificate it made (TCG's
    // tpmVersion "id:20191023"): the quote's first 8 digits are that, an independent source
    assertThat(quote.attest().firmwareVersion() >>> 32).isEqualTo(0x20191023L);
    assertThat(AgentIdentity.of(node(verifiedEkCertificate()), policy(AgentPathTemplate.DEFAULT, Set.of(), Set.of()))
        .selectors()).containsOnlyOnce("tpm:firmware:2019102300163636");
    // zero-padded to 16 digits, whatever the vendor's value
    assertThat(AgentIdentity.firmware(0x0000000100000002L)).isEqualTo("0000000100000002");
    assertThat(AgentIdentity.firmware(-1L)).isEqualTo("ffffffffffffffff");
  }

  @Test
  void theTpmManufacturerGoesIntoThePathAsItsHexDigits() throws Exception {
    // swtpm's manufacturer is "id:00001014" (TCG's form): a colon has no place in a SPIFFE ID path
    AgentIdentity id = AgentIdentity.of(node(verifiedEkCertificate()),
        policy("/{{ .PluginName }}/{{ .TPMManufacturer }}/{{ .UUID }}", Set.of(), Set.of()));
    assertThat(id.spiffeId()).isEqualTo("spiffe://example.org/spire/agent/keylime/00001014/" + UUID);
    assertThat(id.selectors()).contains("tpm:manufacturer:id:00001014");
  }

  @Test
  void theEkAndAppKeyFieldsAreTheSelectorHashes() throws Exception {
    VerifiedNode n = node(EkCertificate.Result.NOT_CHECKED);
    assertThat(AgentIdentity.of(n, policy("/{{ .PluginName }}/{{ .EKHash }}", Set.of(), Set.of())).spiffeId())
        .isEqualTo("spiffe://example.org/spire/agent/keylime/" + EK_SPKI_SHA256);
    assertThat(AgentIdentity.of(n, policy("/{{ .TrustDomain }}/{{ .AppKeyHash }}", Set.of(), Set.of())).spiffeId())
        .isEqualTo("spiffe://example.org/spire/agent/example.org/" + APP_KEY_SPKI_SHA256);
    // Keylime's own hash_ek ID hashes the PEM text, not the DER key: a different value for the same EK
    assertThat(io.github.keylimeattestor.tpm.structure.AgentData.ekHash(n.ek().key())).isNotEqualTo(EK_SPKI_SHA256);
  }

  @Test
  void pcrAndMetaSelectorsOnlyForQuotedAndAllowListedEntries() throws Exception {
    // the trace quotes PCRs 0-7, 10 and 16 (all zero on a fresh swtpm); 23 is allowed but not quoted
    assertThat(quote.pcrs().value(Alg.SHA256, 23)).isNull();
    AgentIdentity id = AgentIdentity.of(node(EkCertificate.Result.NOT_CHECKED),
        policy(AgentPathTemplate.DEFAULT, Set.of(16, 0, 23), Set.of("rack", "env", "absent")));
    assertThat(id.selectors()).containsExactly("uuid:" + UUID, "ek_hash:" + EK_SPKI_SHA256,
        "app_key:" + APP_KEY_SPKI_SHA256, "pcr:sha256:0:" + ZERO_PCR, "pcr:sha256:16:" + ZERO_PCR,
        "attestation_status:pass", "meta:env:prod", "meta:rack:r7", "policy:tpm");
  }

  @Test
  void theSameNodeAndPolicyGiveTheSameIdentity() throws Exception {
    AgentIdentity.Policy p = policy(AgentPathTemplate.DEFAULT, Set.of(0), Set.of("env"));
    assertThat(AgentIdentity.of(node(verifiedEkCertificate()), p)).isEqualTo(AgentIdentity.of(node(verifiedEkCertificate()), p));
    assertThat(node(EkCertificate.Result.ABSENT)).isEqualTo(node(EkCertificate.Result.ABSENT));
  }
}
