package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.transport.Tcti;
import io.grpc.Status;
import io.grpc.StatusException;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class AgentConfigTest {
  static final String BASE = "keylime_agent_uuid = \"0e2f6a4c-7c1b-4f1e-9d52-3b5f3a8e1c01\"\n"
      + "app_key_path = \"/var/lib/spire/agent/keylime_app_key.blob\"\n";

  @Test
  void defaults() throws Exception {
    AgentConfig c = AgentConfig.parse(BASE);
    assertThat(c.tcti()).isEmpty(); // Tcti.defaultSpec() at each use: /dev/tpmrm0, else tpm2-abrmd
    assertThat(c.warnings()).isEmpty();
    assertThat(c.ek().persistentHandle()).isEqualTo(0x81010001);
    assertThat(c.agentDataPath()).isEqualTo(Path.of("/var/lib/keylime/agent_data.json"));
    assertThat(c.quoteSource()).isEqualTo(AgentConfig.QuoteSource.TPM);
    assertThat(c.keylimeAgent()).isEmpty();
    assertThat(c.uuid()).isInstanceOf(AgentConfig.UuidSource.Explicit.class);
  }

  /** examples/spire-conf/agent.conf as shipped: both our blocks pass their own parsers, with no note, and agree. */
  @Test
  void theShippedExampleConfigures() throws Exception {
    Path example = Path.of(System.getProperty("project.root", "..")).resolve("examples/spire-conf/agent.conf");
    var nodeAttestor = io.github.keylimeattestor.sdk.doctor.PluginDataFile.read(example, "keylime");
    AgentConfig c = AgentConfig.parse(nodeAttestor.pluginData());
    assertThat(c.warnings()).isEmpty();
    var keyManager = io.github.keylimeattestor.sdk.doctor.PluginDataFile.find(example, "KeyManager", "keylime_tpm", null)
        .orElseThrow();
    TpmKeyManagerConfig k = TpmKeyManagerConfig.parse(keyManager.pluginData());
    assertThat(k.warnings()).isEmpty();
    assertThat(c.svidKeyDirectory()).contains(k.directory());
    assertThat(k.tcti()).isEqualTo(c.tcti());
  }

  @Test
  void swtpmTemplateEkAndAgentConfig() throws Exception {
    AgentConfig c = AgentConfig.parse("swtpm_address = \"[::1]:2321\"\nek_handle = \"template\"\n"
        + "keylime_agent_config = \"/etc/keylime/agent.conf\"\napp_key_path = \"data/app.blob\"\n");
    assertThat(c.tcti()).contains(new Tcti.Spec.Swtpm("::1", 2321));
    assertThat(c.warnings()).containsExactly("swtpm_address is an old name: write tcti = \"swtpm:host=::1,port=2321\"");
    assertThat(c.ek().persistentHandle()).isZero();
    assertThat(c.ek().hierarchy()).isEqualTo(Handles.RH_ENDORSEMENT);
    assertThat(c.uuid()).isEqualTo(new AgentConfig.UuidSource.AgentConf(Path.of("/etc/keylime/agent.conf")));
  }

  @Test
  void tctiChoosesTheTpmWithTpm2ToolsStrings() throws Exception {
    String[][] table = {
        {"device:/dev/tpmrm0", "device:/dev/tpmrm0"},
        {"tabrmd", "tabrmd:bus_name=com.intel.tss2.Tabrmd,bus_type=system"},
        {"tabrmd:bus_type=session", "tabrmd:bus_name=com.intel.tss2.Tabrmd,bus_type=session"},
        {"swtpm:host=127.0.0.1,port=2321", "swtpm:host=127.0.0.1,port=2321"},
    };
    for (String[] row : table) {
      AgentConfig c = AgentConfig.parse(BASE + "tcti = \"" + row[0] + "\"\n");
      assertThat(c.tcti()).as(row[0]).get().hasToString(row[1]);
      assertThat(c.warnings()).as(row[0]).isEmpty();
    }
  }

  @Test
  void oldKeysMapOntoTctiWithANote() throws Exception {
    AgentConfig d = AgentConfig.parse(BASE + "tpm_device = \"/dev/tpmrm0\"\n");
    assertThat(d.tcti()).contains(new Tcti.Spec.Device(Path.of("/dev/tpmrm0")));
    assertThat(d.warnings()).containsExactly("tpm_device is an old name: write tcti = \"device:/dev/tpmrm0\"");
    AgentConfig s = AgentConfig.parse(BASE + "swtpm_address = \"127.0.0.1:2321\"\n");
    assertThat(s.tcti()).contains(new Tcti.Spec.Swtpm("127.0.0.1", 2321));
    // Validate passes, with the note; Configure works
    Plugin.Validation v = new KeylimeAgentPlugin().validate(CoreConfiguration.getDefaultInstance(),
        BASE + "swtpm_address = \"127.0.0.1:2321\"\n");
    assertThat(v.valid()).isTrue();
    assertThat(v.notes()).singleElement().asString().contains("write tcti = \"swtpm:host=127.0.0.1,port=2321\"");
  }

  @Test
  void theRawDeviceWorksOnlyWhenAskedForAndWarns() throws Exception {
    for (String hcl : new String[] {"tcti = \"device:/dev/tpm0\"\n", "tpm_device = \"/dev/tpm0\"\n"}) {
      AgentConfig c = AgentConfig.parse(BASE + hcl);
      assertThat(c.tcti()).contains(new Tcti.Spec.Device(Path.of("/dev/tpm0")));
      assertThat(c.warnings()).last().asString().contains("/dev/tpm0 is the raw TPM device")
          .contains("tpm2-abrmd");
      Plugin.Validation v = new KeylimeAgentPlugin().validate(CoreConfiguration.getDefaultInstance(), BASE + hcl);
      assertThat(v.valid()).isTrue();
      assertThat(v.notes()).anySatisfy(n -> assertThat(n).contains("raw TPM device"));
    }
  }

  @Test
  void plainHttpKeylimeAgentOnlyWhenWrittenExplicitly() throws Exception {
    AgentConfig c = AgentConfig.parse("quote_source = \"keylime_agent\"\nkeylime_agent_url = \"http://127.0.0.1:9002\"\n"
        + "app_key_path = \"/a\"\n");
    assertThat(c.uuid()).isInstanceOf(AgentConfig.UuidSource.AgentApi.class);
    assertThat(c.keylimeAgent().orElseThrow().tls()).isEmpty();
  }

  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', textBlock = """
      tpm_device = "/dev/tpmrm0"\\nswtpm_address = "127.0.0.1:2321"     | set either tpm_device or swtpm_address
      tcti = "tabrmd"\\ntpm_device = "/dev/tpmrm0"                      | tcti replaces tpm_device and swtpm_address
      tcti = "tabrmd"\\nswtpm_address = "127.0.0.1:2321"                | set only tcti
      tcti = "/dev/tpmrm0"                                              | tcti: bad TCTI "/dev/tpmrm0"
      tcti = "tabrmd:bus_type=user"                                     | bus_type must be system or session
      tcti = "swtpm:127.0.0.1:2321"                                     | use device:/dev/tpmrm0, tabrmd
      swtpm_address = "localhost"                                       | swtpm_address must be host:port
      swtpm_address = "127.0.0.1:99999"                                 | swtpm_address must be host:port
      ek_handle = "0x01c00002"                                          | ek_handle must be a persistent handle
      ek_algorithm = "dsa"                                              | ek_algorithm must be
      quote_source = "keylime"                                          | quote_source must be "tpm"
      quote_source = "keylime_agent"                                    | needs keylime_agent_url
      keylime_agent_url = "https://127.0.0.1:9002"                      | keylime_agent_url is set but unused
      tpm_devise = "/dev/tpm0"                                          | unknown setting tpm_devise
      tpm_device = "tpmrm0"                                             | tpm_device needs an absolute path
      app_key_path = "/var/lib/keylime/agent_data.json"                 | app_key_path must not be agent_data_path
      app_key_path = "/k/app.blob"\\nsvid_key_directory = "/k"           | app_key_path must not be in svid_key_directory
      timeout = "0s"                                                    | timeout must be
      timeout = "500us"                                                 | timeout must be between 1ms and 5m
      timeout = "soon"                                                  | timeout
      app_key_path = 5                                                  | app_key_path must be a string
      app_key_path = "/"                                                | app_key_path = "/" names no file
      """)
  void refusedWithAnActionableNote(String extra, String note) throws Exception {
    String hcl = BASE.replace("app_key_path", extra.contains("app_key_path") ? "#" : "app_key_path")
        + extra.replace("\\n", "\n") + "\n";
    assertRefused(hcl, note);
  }

  @Test
  void uuidProblems() throws Exception {
    assertRefused("app_key_path = \"/a\"\n", "the Keylime agent UUID is unknown");
    assertRefused(BASE + "keylime_agent_config = \"/etc/keylime/agent.conf\"\n", "not both");
    assertRefused("keylime_agent_uuid = \"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\"\napp_key_path = \"/a\"\n",
        "default agent UUID");
    assertRefused("keylime_agent_uuid = \"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\"\napp_key_path = \"/a\"\n",
        "then set keylime_agent_uuid to that uuid");
    assertRefused("keylime_agent_uuid = \"node-1\"\napp_key_path = \"/a\"\n", "neither a UUID");
    assertRefused("keylime_agent_uuid = \"0e2f6a4c-7c1b-4f1e-9d52-3b5f3a8e1c01\"\n", "app_key_path is required");
  }

  @Test
  void keylimeAgentTlsProblems() throws Exception {
    String agent = BASE + "quote_source = \"keylime_agent\"\n";
    assertRefused(agent + "keylime_agent_url = \"https://127.0.0.1:9002\"\n", "needs keylime_agent_tls");
    assertRefused(agent + "keylime_agent_url = \"http://127.0.0.1:9002\"\nkeylime_agent_tls { ca_bundle = \"/x\" }\n",
        "keylime_agent_url is http://");
    assertRefused(agent + "keylime_agent_url = \"ftp://127.0.0.1:9002\"\n", "must be https://host:port");
    assertRefused(agent + "keylime_agent_url = \"https://127.0.0.1:9002\"\nkeylime_agent_tls { ca_bundle = \"/x\" }\n",
        "client_cert is required");
    assertRefused(agent + "keylime_agent_url = \"https://127.0.0.1:9002\"\nkeylime_agent_tls {\n ca_bundle = \"/nonexistent/ca.pem\"\n"
        + " client_cert = \"/nonexistent/c.pem\"\n client_key = \"/nonexistent/k.pem\"\n}\n", "/nonexistent/");
    assertRefused(agent + "keylime_agent_url = \"https://127.0.0.1:9002\"\nkeylime_agent_tls {\n ca_bundle = \"/x\"\n"
        + " client_cert = \"/x\"\n client_key = \"/x\"\n verify = false\n}\n", "unknown setting keylime_agent_tls.verify");
    assertRefused(BASE + "keylime_agent_tls { ca_bundle = \"/x\" }\n", "keylime_agent_url is not");
  }

  private static void assertRefused(String hcl, String note) {
    KeylimeAgentPlugin plugin = new KeylimeAgentPlugin();
    Plugin.Validation v = plugin.validate(CoreConfiguration.getDefaultInstance(), hcl);
    assertThat(v.valid()).as("valid: %s", hcl).isFalse();
    assertThat(v.notes()).anySatisfy(n -> assertThat(n).contains(note));
    assertThatThrownBy(() -> plugin.configure(CoreConfiguration.getDefaultInstance(), hcl))
        .isInstanceOfSatisfying(StatusException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).contains(note);
        });
  }

  @Test
  void everyProblemIsANoteOfItsOwnAndTyposGetTheNearestKey() {
    String hcl = "keylime_agent_uuid = \"0e2f6a4c-7c1b-4f1e-9d52-3b5f3a8e1c01\"\napp_kye_path = \"/a\"\n"
        + "timeout = \"0s\"\nek_algorithm = \"dsa\"\n";
    Plugin.Validation v = new KeylimeAgentPlugin().validate(CoreConfiguration.getDefaultInstance(), hcl);
    assertThat(v.valid()).isFalse();
    assertThat(v.notes()).containsExactly(
        "keylime plugin_data: ek_algorithm must be \"rsa\" (TCG template L-1) or \"ecc\" (L-2), as the Keylime agent's "
            + "tpm_encryption_alg",
        "keylime plugin_data: app_key_path is required; app_kye_path is set: is it a misspelling?",
        "keylime plugin_data: unknown setting app_kye_path: did you mean app_key_path?",
        "keylime plugin_data: timeout must be between 1ms and 5m");
  }

  @Test
  void aMissingTlsFileIsNamedByItsKey(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path present = java.nio.file.Files.writeString(dir.resolve("ca.pem"), "not used");
    String hcl = BASE + "quote_source = \"keylime_agent\"\nkeylime_agent_url = \"https://127.0.0.1:9002\"\n"
        + "keylime_agent_tls {\n ca_bundle = \"" + present + "\"\n client_cert = \"" + dir.resolve("c.pem") + "\"\n"
        + " client_key = \"" + dir.resolve("k.pem") + "\"\n}\n";
    Plugin.Validation v = new KeylimeAgentPlugin().validate(CoreConfiguration.getDefaultInstance(), hcl);
    assertThat(v.notes()).containsExactly(
        "keylime plugin_data: keylime_agent_tls.client_cert: no such file " + dir.resolve("c.pem"),
        "keylime plugin_data: keylime_agent_tls.client_key: no such file " + dir.resolve("k.pem"));
  }

  @Test
  void aGoodConfigValidatesWithoutNotes() {
    Plugin.Validation v = new KeylimeAgentPlugin().validate(CoreConfiguration.getDefaultInstance(), BASE);
    assertThat(v.valid()).isTrue();
    assertThat(v.notes()).isEmpty();
  }
}
