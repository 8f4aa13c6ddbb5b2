package io.github.keylimeattestor.sovereign;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.proto.sovereign.AttestationPayload;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.TraceScenarios;
import io.github.keylimeattestor.tpm.transport.ReplayTransport;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WireFormatTest {
  @Test
  void challengeRoundTripsAndNonceIs32AlphanumericsAcceptedByKeylimeAgents() throws Exception {
    Nonce n = Nonce.mint(new SecureRandom());
    assertThat(n.text()).matches("[A-Za-z0-9]{32}");
    WireFormat.Challenge c = WireFormat.decodeChallenge(WireFormat.encodeChallenge(n, PcrSelection.of(Alg.SHA256, 0, 16)));
    assertThat(c.nonce()).isEqualTo(n);
    assertThat(c.selection()).isEqualTo(PcrSelection.of(Alg.SHA256, 0, 16));
  }

  @Test
  void nonceFitsTheQualifyingDataOfATpmWhoseLargestHashIsSha256() {
    // TPM2B_DATA holds at most sizeof(TPMT_HA): 2 + 32 bytes on such a TPM (TPM_RC_SIZE beyond)
    assertThat(Nonce.mint(new SecureRandom()).quoteQualifyingData()).hasSizeLessThanOrEqualTo(Nonce.MAX_QUALIFYING_DATA);
  }

  @Test
  void mintedNoncesUseTheWholeAlphabetAndDoNotRepeat() {
    SecureRandom random = new SecureRandom();
    java.util.Set<String> seen = new java.util.HashSet<>();
    java.util.Set<Character> chars = new java.util.TreeSet<>();
    for (int i = 0; i < 2000; i++) {
      String t = Nonce.mint(random).text();
      assertThat(seen.add(t)).as("nonce %s minted twice", t).isTrue();
      t.chars().forEach(c -> chars.add((char) c));
    }
    assertThat(chars).hasSize(62);
  }

  @Test
  void anEarlierServersHexNonceIsStillAnsweredAndAnythingElseIsMalformed() throws Exception {
    String hex = "0123456789abcdef".repeat(4);
    assertThat(Nonce.parse(hex).text()).isEqualTo(hex);
    for (String bad : new String[] {"", "A".repeat(31), "A".repeat(33), "A".repeat(31) + "-", "0123456789ABCDEF".repeat(4),
        "a".repeat(64) + "0", "\u0661".repeat(32)}) {
      assertThatThrownBy(() -> Nonce.parse(bad)).as(bad).isInstanceOfSatisfying(EvidenceException.class,
          e -> assertThat(e.kind()).isEqualTo(EvidenceException.Kind.MALFORMED));
    }
  }

  @Test
  void keylimesDefaultUuidIsRefusedAsPermissionDenied() {
    byte[] p = AttestationPayload.newBuilder().setVersion(1).setKeylimeAgentUuid(KeylimeAgentId.KEYLIME_DEFAULT_UUID)
        .setAppKeyPublic(com.google.protobuf.ByteString.copyFrom(Templates.appKeyEccP256().marshalTpm2b()))
        .setHashAlg("sha256").build().toByteArray();
    assertThatThrownBy(() -> WireFormat.decodePayload(p)).isInstanceOfSatisfying(EvidenceException.class, e -> {
      assertThat(e.kind()).isEqualTo(EvidenceException.Kind.REJECTED);
      assertThat(e.check()).isEqualTo("default_uuid");
    });
  }

  @Test
  void malformedPayloadsAreInvalidArgument() {
    for (byte[] bad : new byte[][] {new byte[0], new byte[] {(byte) 0xff, 1, 2}, new byte[WireFormat.MAX_PAYLOAD + 1],
        AttestationPayload.newBuilder().setVersion(2).build().toByteArray(),
        AttestationPayload.newBuilder().setVersion(1).setKeylimeAgentUuid("not-a-uuid").build().toByteArray(),
        AttestationPayload.newBuilder().setVersion(1).setKeylimeAgentUuid("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10")
            .setHashAlg("sha256").setAppKeyPublic(com.google.protobuf.ByteString.copyFrom(new byte[] {0, 9, 1}))
            .build().toByteArray()}) {
      assertThatThrownBy(() -> WireFormat.decodePayload(bad)).isInstanceOfSatisfying(EvidenceException.class,
          e -> assertThat(e.kind()).isEqualTo(EvidenceException.Kind.MALFORMED));
    }
  }

  static byte[] payload(int version) {
    return AttestationPayload.newBuilder().setVersion(version).setKeylimeAgentUuid("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10")
        .setAppKeyPublic(com.google.protobuf.ByteString.copyFrom(Templates.appKeyEccP256().marshalTpm2b()))
        .setHashAlg("sha256").build().toByteArray();
  }

  @Test
  void versionsOneAndTwoAreReadAndEveryOtherRefused() throws Exception {
    assertThat(WireFormat.decodePayload(payload(1)).version()).isEqualTo(1);
    assertThat(WireFormat.decodePayload(payload(2)).version()).isEqualTo(2);
    assertThat(WireFormat.encodePayload(KeylimeAgentId.parse("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10"),
        Templates.appKeyEccP256(), "sha256")).isEqualTo(payload(2));
    for (int v : new int[] {0, 3, 100}) {
      assertThatThrownBy(() -> WireFormat.decodePayload(payload(v))).isInstanceOfSatisfying(EvidenceException.class,
          e -> {
            assertThat(e.kind()).isEqualTo(EvidenceException.Kind.MALFORMED);
            assertThat(e.getMessage()).contains("version " + v + " is not supported");
          });
    }
  }

  @Test
  void agentIdAcceptsUuidsAndEkHashes() throws Exception {
    assertThat(KeylimeAgentId.parse("0B5F2B36-27A4-4D8E-9C61-3C4F2D7E9A10").value()).isEqualTo("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10");
    assertThat(KeylimeAgentId.parse("a".repeat(64)).value()).hasSize(64);
  }

  @Test
  void agentPathTemplateRendersVerifiedFieldsOnly() throws Exception {
    AgentPathTemplate t = AgentPathTemplate.parse("/{{ .PluginName }}/{{.UUID}}");
    assertThat(t.render(Map.of("PluginName", "keylime", "UUID", "u-1"))).isEqualTo("/keylime/u-1");
    assertThatThrownBy(() -> AgentPathTemplate.parse("/{{ .Hostname }}")).hasMessageContaining("unknown field");
    assertThatThrownBy(() -> AgentPathTemplate.parse("keylime")).hasMessageContaining("start with");
    assertThatThrownBy(() -> t.render(Map.of("PluginName", "keylime", "UUID", "../x")))
        .isInstanceOf(EvidenceException.class);
  }

  @Test
  void anAgentPathTemplateThatCanNeverNameANodeIsRefusedWhenConfigured() {
    // no per-node field: every node would get the same agent ID
    for (String same : new String[] {"/{{ .TrustDomain }}", "/{{ .PluginName }}/{{ .TPMModel }}", "/keylime"}) {
      assertThatThrownBy(() -> AgentPathTemplate.parse(same)).as(same).hasMessageContaining("names no node");
    }
    // literal parts no SPIFFE ID path may have
    for (String bad : new String[] {"/keylime node/{{ .UUID }}", "/keylime/{{ .UUID }}/", "//{{ .UUID }}",
        "/keylime/./{{ .UUID }}", "/{{ .PluginName }}:{{ .UUID }}"}) {
      assertThatThrownBy(() -> AgentPathTemplate.parse(bad)).as(bad).hasMessageContaining("cannot render a valid");
    }
    assertThat(AgentPathTemplate.parse("/{{ .PluginName }}/{{ .EKHash }}").namesTheEkAlone()).isTrue();
    assertThat(AgentPathTemplate.parse("/{{ .TPMManufacturer }}/{{ .EKHash }}").namesTheEkAlone()).isTrue();
    assertThat(AgentPathTemplate.parse("/{{ .PluginName }}/{{ .EKHash }}/{{ .UUID }}").namesTheEkAlone()).isFalse();
    assertThat(AgentPathTemplate.parse("/{{ .PluginName }}/{{ .EKHash }}/{{ .UUID }}").namesTheEk()).isTrue();
    assertThat(AgentPathTemplate.parse("/{{ .PluginName }}/{{ .UUID }}").namesTheEk()).isFalse();
  }

  @Test
  void anAttestationRoundTripsWithItsSvidKeysInOrder() throws Exception {
    TraceScenarios.QuoteCertify qc;
    try (InputStream in = WireFormatTest.class.getResourceAsStream("/traces/quote_certify.trace")) {
      qc = TraceScenarios.quoteCertify(TraceScenarios.tpm(ReplayTransport.parse(
          new String(in.readAllBytes(), StandardCharsets.US_ASCII))));
    }
    WireFormat.Certification app = new WireFormat.Certification(qc.app().publicArea(),
        qc.evidence().certify().attest(), qc.evidence().certify().signature());
    WireFormat.Certification other = new WireFormat.Certification(qc.ak().publicArea(), app.signature(),
        app.certifyInfo());
    Map<String, WireFormat.Certification> svid = new LinkedHashMap<>();
    svid.put("agent-svid-B", other);
    svid.put("agent-svid-A", app);
    KeylimeAgentId id = KeylimeAgentId.parse("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10");
    Nonce n = Nonce.mint(new SecureRandom());
    String quote = qc.evidence().quote().encode();

    var att = WireFormat.decodeAttestation(WireFormat.encodeAttestation(id, n, quote, app, svid));
    assertThat(att.getKeylimeAgentUuid()).isEqualTo(id.value());
    assertThat(att.getChallengeNonce()).isEqualTo(n.text());
    assertThat(att.getTpmSignedAttestation()).isEqualTo(quote);
    assertThat(att.getAppKeyPublic().toByteArray()).isEqualTo(qc.app().publicArea().marshalTpm2b());
    assertThat(att.getAppKeyCertificate().getCertifyInfo().toByteArray()).isEqualTo(qc.evidence().certify().attest().toByteArray());
    assertThat(att.getAppKeyCertificate().getSignature().toByteArray()).isEqualTo(qc.evidence().certify().signature().toByteArray());
    assertThat(att.getSvidKeysList()).extracting(k -> k.getKeyId()).containsExactly("agent-svid-B", "agent-svid-A");
    assertThat(att.getSvidKeys(0).getPublicArea().toByteArray()).isEqualTo(qc.ak().publicArea().marshalTpm2b());
    assertThat(att.getSvidKeys(0).getCertificate().getCertifyInfo().toByteArray())
        .isEqualTo(qc.evidence().certify().signature().toByteArray());
    assertThat(WireFormat.decodePayload(WireFormat.encodePayload(id, qc.app().publicArea(), "sha256")).appKeyRaw()
        .constantTimeEquals(att.getAppKeyPublic().toByteArray())).isTrue();
  }
}
