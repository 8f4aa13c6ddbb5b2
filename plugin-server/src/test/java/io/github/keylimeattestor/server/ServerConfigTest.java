package io.github.keylimeattestor.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.tpm.Alg;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ServerConfigTest {
  static TestPki pki;

  @BeforeAll
  static void pki() throws Exception {
    pki = TestPki.create();
  }

  static String minimal(String extra) {
    return pki.pluginData(extra);
  }

  @Test
  void minimalConfigGetsSafeDefaults() throws Exception {
    ServerConfig c = ServerConfig.parse("example.org", minimal(""));
    assertThat(c.verifier().urls()).hasSize(2);
    assertThat(c.acceptedStates()).containsExactlyInAnyOrder(OperationalState.GET_QUOTE, OperationalState.PROVIDE_V);
    assertThat(c.maxAttestationAge()).contains(Duration.ofMinutes(5));
    assertThat(c.requirePass()).isTrue();
    assertThat(c.verifierIdentityCheck()).isTrue();
    assertThat(c.pcrPolicy().hashAlg()).isEqualTo(Alg.SHA256);
    assertThat(c.pcrPolicy().pcrs()).containsExactly(16);
    assertThat(c.challengeTimeout()).isEqualTo(Duration.ofSeconds(60));
    assertThat(c.agentPath().toString()).isEqualTo("/{{ .PluginName }}/{{ .UUID }}");
  }

  @Test
  void tpmBoundSvidIsOffByDefaultAndNeedsAPrivateBindingDirectory(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
      throws Exception {
    assertThat(ServerConfig.parse("example.org", minimal("")).tpmBoundSvid()).isEqualTo(ServerConfig.TpmBoundSvid.OFF);
    java.nio.file.Path dir = tmp.resolve("bindings");
    ServerConfig on = ServerConfig.parse("example.org", minimal("require_tpm_bound_svid = true\n"
        + "svid_binding_directory = \"" + dir + "\"\n"));
    assertThat(on.tpmBoundSvid()).isEqualTo(new ServerConfig.TpmBoundSvid(true, java.util.Optional.of(dir)));
    assertThatThrownBy(() -> ServerConfig.parse("example.org", minimal("require_tpm_bound_svid = true\n")))
        .hasMessageContaining("require_tpm_bound_svid = true needs svid_binding_directory");
    java.nio.file.Files.createDirectory(dir);
    java.nio.file.Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-x---"));
    assertThatThrownBy(() -> ServerConfig.parse("example.org", minimal("svid_binding_directory = \"" + dir + "\"\n")))
        .hasMessageContaining("svid_binding_directory: " + dir + " has mode rwxr-x---");
  }

  @Test
  void fullConfigIsRead() throws Exception {
    ServerConfig c = ServerConfig.parse("example.org", minimal("""
        attestation_policy {
          accepted_states = ["get_quote", "4"]
          max_attestation_age = "5m"
        }
        pcr_policy {
          pcrs = [0, 7, 16]
          expected {
            "7" = "%s"
          }
        }
        selectors {
          pcrs = [7]
          meta_keys = ["site"]
        }
        agent_path_template = "/{{ .PluginName }}/{{ .EKHash }}"
        verifier_identity_check = false
        """.formatted("ab".repeat(32))));
    assertThat(c.acceptedStates()).containsExactlyInAnyOrder(OperationalState.GET_QUOTE, OperationalState.GET_QUOTE_RETRY);
    assertThat(c.maxAttestationAge()).contains(Duration.ofMinutes(5));
    assertThat(c.pcrPolicy().expected()).containsKey(7);
    assertThat(c.pcrSelectors()).containsExactly(7);
    assertThat(c.metaSelectors()).containsExactly("site");
    assertThat(c.verifierIdentityCheck()).isFalse();
  }

  @Test
  void freshnessIsOnByDefaultAndZeroIsTheExplicitOptOut() throws Exception {
    assertThat(ServerConfig.parse("example.org", minimal("")).maxAttestationAge()).contains(Duration.ofMinutes(5));
    ServerConfig off = ServerConfig.parse("example.org", minimal("attestation_policy {\n max_attestation_age = \"0\"\n}\n"));
    assertThat(off.maxAttestationAge()).isEmpty();
    assertThat(off.warnings()).singleElement().asString().contains("max_attestation_age = \"0\"");
    ServerConfig retry = ServerConfig.parse("example.org",
        minimal("attestation_policy {\n accepted_states = [\"get_quote\", \"get_quote_retry\"]\n}\n"));
    assertThat(retry.warnings()).singleElement().asString().contains("retry state").contains("5m bounds it");
    assertThat(ServerConfig.parse("example.org", minimal("")).warnings()).isEmpty();
  }

  @Test
  void everyProblemIsReportedAtOnceAsInvalidArgument() throws Exception {
    String hcl = minimal("challenge_timeout = \"soon\"\nverifer_identity_check = true\n")
        .replace("https://127.0.0.1:8891", "https://bad host:8891")
        .replace(pki.key.toString(), pki.key + ".missing");
    HclException e = org.assertj.core.api.Assertions.catchThrowableOfType(HclException.class,
        () -> ServerConfig.parse("example.org", hcl));
    assertThat(e.problems()).containsExactly(
        "tls.client_key: no such file " + pki.key + ".missing",
        "registrar_urls: \"https://bad host:8891\" is not a URL (Illegal character in authority), e.g. "
            + "[\"https://keylime.example:8891\"]",
        "challenge_timeout: 'soon' is not a duration such as \"30s\", \"5m\" or \"1h\"",
        "unknown setting verifer_identity_check: did you mean verifier_identity_check?");

    KeylimeServerPlugin plugin = new KeylimeServerPlugin();
    var core = io.github.keylimeattestor.proto.spire.config.CoreConfiguration.newBuilder().setTrustDomain("example.org").build();
    var v = plugin.validate(core, hcl);
    assertThat(v.valid()).isFalse();
    assertThat(v.notes()).isEqualTo(e.problems());
    assertThatThrownBy(() -> plugin.configure(core, hcl)).isInstanceOfSatisfying(io.grpc.StatusException.class, x -> {
      assertThat(x.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
      assertThat(x.getStatus().getDescription()).startsWith("plugin_data has 4 problems: tls.client_key: no such file");
    });
  }

  @Test
  void turningOffTheIdentityCheckNeedsTheEkInTheAgentIdOrAnEkBinding(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    // the verifier's status names no AK: without /verify/identity, a re-registered UUID would take the node's ID
    assertThatThrownBy(() -> ServerConfig.parse("example.org", minimal("verifier_identity_check = false\n")))
        .isInstanceOfSatisfying(HclException.class, e -> assertThat(e.problems()).singleElement().asString()
            .startsWith("verifier_identity_check = false needs {{ .EKHash }} in agent_path_template or an ek_binding block"));
    // an allow-list admits any listed TPM under any UUID: another listed host re-registering a node's UUID
    java.nio.file.Path list = java.nio.file.Files.writeString(dir.resolve("ek-hashes"), "ab".repeat(32) + "\n");
    assertThatThrownBy(() -> ServerConfig.parse("example.org", minimal("verifier_identity_check = false\n"
        + "ek_hash_allow_list = \"" + list + "\"\n")))
        .isInstanceOfSatisfying(HclException.class, e -> assertThat(e.problems()).singleElement().asString()
            .contains("an ek_hash_allow_list does not prevent that"));
    assertThat(ServerConfig.parse("example.org", minimal("verifier_identity_check = false\n"
        + "agent_path_template = \"/{{ .PluginName }}/{{ .EKHash }}/{{ .UUID }}\"\n")).verifierIdentityCheck()).isFalse();
    ServerConfig off = ServerConfig.parse("example.org", minimal("verifier_identity_check = false\n"
        + "ek_binding {\n  spire_server_socket = \"" + dir.resolve("api.sock") + "\"\n}\n"));
    assertThat(off.verifierIdentityCheck()).isFalse();
    // nothing else then ties the agent ID to the registrar's current AK: no cached record
    assertThat(KeylimeServerPlugin.registrarRecordTtl(off)).isZero();
    assertThat(KeylimeServerPlugin.registrarRecordTtl(ServerConfig.parse("example.org", minimal(""))))
        .isEqualTo(io.github.keylimeattestor.keylime.RegistrarClient.DEFAULT_RECORD_TTL);
  }

  @Test
  void onlyTheStatesOfANodeUnderAttestationCanBeAccepted() {
    for (String state : new String[] {"registered", "start", "saved", "0", "2", "terminated", "8"}) {
      assertThatThrownBy(() -> ServerConfig.parse("example.org", minimal("attestation_policy {\n accepted_states = [\""
          + state + "\"]\n}\n"))).as(state).isInstanceOf(HclException.class);
    }
  }

  @Test
  void ekBindingIsSkippedOnlyForAnAgentIdOfTheEkAlone() throws Exception {
    assertThat(ServerConfig.parse("example.org", minimal("agent_path_template = \"/{{ .PluginName }}/{{ .EKHash }}\"\n"))
        .agentIdNamesTheEkAlone()).isTrue();
    // an EK hash beside the UUID stops an ID passing to another TPM, not one TPM holding several IDs
    assertThat(ServerConfig.parse("example.org", minimal(
        "agent_path_template = \"/{{ .PluginName }}/{{ .EKHash }}/{{ .UUID }}\"\n")).agentIdNamesTheEkAlone()).isFalse();
    assertThat(ServerConfig.parse("example.org", minimal("")).agentIdNamesTheEkAlone()).isFalse();
  }

  @Test
  void everyMissingTlsFileIsNamedAtOnce() {
    // TestPki's certificate is both the CA bundle and the client certificate
    String hcl = minimal("").replace(pki.key.toString(), pki.key + ".missing")
        .replace(pki.cert.toString(), pki.cert + ".missing");
    assertThatThrownBy(() -> ServerConfig.parse("example.org", hcl)).isInstanceOfSatisfying(HclException.class,
        e -> assertThat(e.problems()).containsExactly("tls.ca_bundle: no such file " + pki.cert + ".missing",
            "tls.client_cert: no such file " + pki.cert + ".missing", "tls.client_key: no such file " + pki.key + ".missing"));
  }

  @Test
  void aMisspelledRequiredKeyIsNamedWithItsNearMiss() {
    String hcl = minimal("").replace("registrar_urls", "registar_urls");
    assertThatThrownBy(() -> ServerConfig.parse("example.org", hcl)).isInstanceOfSatisfying(HclException.class,
        e -> assertThat(e.problems()).containsExactly(
            "registrar_urls is required (e.g. [\"https://keylime.example:8891\"]); registar_urls is set: is it a misspelling?",
            "unknown setting registar_urls: did you mean registrar_urls?"));
  }

  @Test
  void theTrustDomainIsChecked() {
    for (String td : new String[] {"", "Example.org", "spiffe://example.org", "example.org:443"}) {
      assertThatThrownBy(() -> ServerConfig.parse(td, minimal(""))).as(td).isInstanceOf(HclException.class)
          .hasMessageContaining("trust domain");
    }
  }

  /** Keylime's numeric codes, as reference.md says: as numbers or as strings. */
  @Test
  void acceptedStatesTakeNamesAndCodes() throws Exception {
    ServerConfig c = ServerConfig.parse("example.org", minimal("attestation_policy {\n accepted_states = [3, \"provide_v\", \"4\"]\n}\n"));
    assertThat(c.acceptedStates()).containsExactlyInAnyOrder(OperationalState.GET_QUOTE, OperationalState.GET_QUOTE_RETRY,
        OperationalState.PROVIDE_V);
    assertThatThrownBy(() -> ServerConfig.parse("example.org", minimal("attestation_policy {\n accepted_states = [7]\n}\n")))
        .hasMessageContaining("accepted_states: 7 is a failure state");
  }

  @Test
  void aTemplateProblemNamesTheKeyOnce() {
    assertThatThrownBy(() -> ServerConfig.parse("example.org", minimal("agent_path_template = \"keylime/{{ .UUID }}\"\n")))
        .hasMessageContaining("agent_path_template must start with '/'")
        .hasMessageNotContaining("agent_path_template: agent_path_template");
  }

  @Test
  void mistakesAreRefusedWithWhatToFix() {
    String[][] cases = {
        {minimal("verifer_identity_check = true\n"), "unknown setting verifer_identity_check"},
        {minimal("").substring(minimal("").indexOf("tls {")), "registrar_urls is required"},
        {minimal("").replace("https://127.0.0.1:8891", "http://127.0.0.1:8890"), "must be an https:// URL"},
        {minimal("require_ek_cert = true\n"), "needs ek_ca_bundle"},
        {minimal("agent_path_template = \"/{{ .TPMModel }}/{{ .UUID }}\"\n"),
            "uses .TPMManufacturer or .TPMModel, which come from a verified EK certificate only: set require_ek_cert = true"},
        {minimal("selectors {\n pcrs = [7]\n}\n"), "not in pcr_policy.pcrs"},
        {minimal("attestation_policy {\n accepted_states = [\"failed\"]\n}\n"), "failure state"},
        {minimal("agent_path_template = \"/{{ .Hostname }}\"\n"), "unknown field .Hostname"},
        {minimal("pcr_policy {\n pcrs = [24]\n}\n"), "not a PCR index"},
        {minimal("tls_server_name = \"x\"\n"), "unknown setting tls_server_name"},
        {minimal("").replace(pki.key.toString(), pki.key + ".missing"), "tls.client_key: no such file"},
        {minimal("registrar_tls {\n server_nam = \"x\"\n}\n"), "unknown setting registrar_tls.server_nam"},
        {minimal("verifier_tls {\n server_name = \"10.0.0.1\"\n}\n"), "verifier_tls.server_name: server_name must be a DNS name"},
        {minimal("ek_ca_bundle = \"/nonexistent/ek-ca.pem\"\n"), "ek_ca_bundle: no such file /nonexistent/ek-ca.pem"},
        {minimal("").replace(pki.key.toString(), pki.cert.toString()), "no private key in tls.client_key"},
        {minimal("keylime_timeout = \"0s\"\n"), "keylime_timeout must be positive"},
        {minimal("challenge_timeout = \"6m\"\n"), "challenge_timeout must be at most 5m"},
        {minimal("").replace("[\"https://127.0.0.1:8891\"]", "[]"), "registrar_urls is empty"},
        {minimal("attestation_policy {\n accepted_states = []\n}\n"), "accepted_states = [] would accept no node"},
        {minimal("pcr_policy {\n pcrs = []\n}\n"), "pcr_policy.pcrs = [] would quote no PCR"},
        {minimal("pcr_policy {\n bank = \"sha257\"\n}\n"), "use one of sha1, sha256, sha384, sha512, sm3_256"},
        {minimal("revocation {\n interval = \"100ms\"\n}\n"), "(default 2s), not 100ms"},
    };
    for (String[] c : cases) {
      assertThatThrownBy(() -> ServerConfig.parse("example.org", c[0])).as(c[1]).isInstanceOf(HclException.class)
          .hasMessageContaining(c[1]);
    }
  }

  @Test
  void perServiceTlsBlocksOverrideTheSharedOneForThatServiceOnly() throws Exception {
    ServerConfig c = ServerConfig.parse("example.org", minimal("""
        registrar_tls {
          server_name = "registrar.keylime.test"
        }
        verifier_tls {
          server_name = "verifier.keylime.test"
        }
        """));
    assertThat(c.registrar().tls().serverName()).contains("registrar.keylime.test");
    assertThat(c.verifier().tls().serverName()).contains("verifier.keylime.test");
    assertThat(c.registrar().tls().keys().serverName()).isEqualTo("registrar_tls.server_name");
    assertThat(c.registrar().tls().keys().caBundle()).isEqualTo("tls.ca_bundle");

    ServerConfig shared = ServerConfig.parse("example.org", minimal("").replace("tls {\n", "tls {\n server_name = \"keylime.test\"\n")
        + "registrar_tls {\n server_name = \"registrar.keylime.test\"\n}\n");
    assertThat(shared.verifier().tls().serverName()).contains("keylime.test");
    assertThat(shared.verifier().tls().keys().serverName()).isEqualTo("tls.server_name");
    assertThat(shared.verifier().tls().keys().serverNameFix()).isEqualTo("verifier_tls.server_name");
    assertThat(shared.registrar().tls().serverName()).contains("registrar.keylime.test");
  }

  @Test
  void anEmptyPerServiceServerNameDropsTheSharedOneForThatServiceOnly() throws Exception {
    ServerConfig c = ServerConfig.parse("example.org", minimal("").replace("tls {\n", "tls {\n server_name = \"keylime.test\"\n")
        + "registrar_tls {\n server_name = \"\"\n}\n");
    assertThat(c.registrar().tls().serverName()).isEmpty();
    assertThat(c.verifier().tls().serverName()).contains("keylime.test");
    ServerConfig unset = ServerConfig.parse("example.org", minimal("").replace("tls {\n", "tls {\n server_name = \"keylime.test\"\n")
        + "registrar_tls {\n ca_bundle = \"\"\n}\n");
    assertThat(unset.registrar().tls().serverName()).contains("keylime.test");
    assertThat(unset.registrar().tls().keys().caBundle()).isEqualTo("tls.ca_bundle");
  }

  /** A JVM started with the HTTP client's server name checks off: Configure refuses, naming the flag, not as a bug. */
  @Test
  void configureRefusesAJvmWithoutServerNameChecks() throws Exception {
    String key = "jdk.internal.httpclient.disableHostnameVerification";
    System.setProperty(key, "true");
    try {
      KeylimeServerPlugin plugin = new KeylimeServerPlugin();
      var core = io.github.keylimeattestor.proto.spire.config.CoreConfiguration.newBuilder().setTrustDomain("example.org").build();
      assertThatThrownBy(() -> plugin.configure(core, minimal("")))
          .isInstanceOfSatisfying(io.grpc.StatusException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.FAILED_PRECONDITION))
          .hasMessageContaining("disableHostnameVerification");
    } finally {
      System.clearProperty(key);
    }
  }

  @Test
  void validateAnswersWithTheSameNotes() {
    KeylimeServerPlugin plugin = new KeylimeServerPlugin();
    var core = io.github.keylimeattestor.proto.spire.config.CoreConfiguration.newBuilder().setTrustDomain("example.org").build();
    assertThat(plugin.validate(core, minimal("")).valid()).isTrue();
    assertThat(plugin.validate(core, minimal("")).notes()).isEmpty();
    var bad = plugin.validate(core, minimal("require_ek_cert = true\n"));
    assertThat(bad.valid()).isFalse();
    assertThat(bad.notes()).singleElement().asString().contains("ek_ca_bundle");
    assertThat(plugin.validate(core, minimal("attestation_policy {\n max_attestation_age = \"0\"\n}\n")))
        .satisfies(v -> {
          assertThat(v.valid()).isTrue();
          assertThat(v.notes()).singleElement().asString().contains("freshness").doesNotContain("problem");
        });
  }

  @Test
  void sha1IsRefusedUnlessAllowSha1() throws Exception {
    assertThat(ServerConfig.parse("example.org", minimal("")).allowSha1()).isFalse();
    assertThatThrownBy(() -> ServerConfig.parse("example.org", minimal("pcr_policy {\n bank = \"sha1\"\n}\n")))
        .isInstanceOf(HclException.class).hasMessageContaining("needs allow_sha1 = true");
    ServerConfig c = ServerConfig.parse("example.org", minimal("allow_sha1 = true\npcr_policy {\n bank = \"sha1\"\n}\n"));
    assertThat(c.allowSha1()).isTrue();
  }

  @Test
  void aClientKeyOthersCanReadIsRefusedAsSshRefusesIt(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path key = dir.resolve("client.key");
    java.nio.file.Files.copy(pki.key, key);
    java.nio.file.Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    assertThatThrownBy(() -> ServerConfig.parse("example.org", minimal("").replace(pki.key.toString(), key.toString())))
        .isInstanceOf(HclException.class)
        .hasMessageContaining("tls.client_key " + key + " has mode rw-r--r--")
        .hasMessageContaining("chmod 600 " + key);
    java.nio.file.Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    assertThat(ServerConfig.parse("example.org", minimal("").replace(pki.key.toString(), key.toString()))).isNotNull();
  }
}
