package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.sdk.hcl.HclException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** plugin_data of KeyManager "keylime_tpm" and svid_key_directory of the NodeAttestor. */
class TpmKeyManagerConfigTest {
  @Test
  void directoryIsRequiredAndTheTpmSettingsAreTheNodeAttestors() throws Exception {
    TpmKeyManagerConfig c = TpmKeyManagerConfig.parse("directory = \"/var/lib/spire/agent/tpm-keys\"\n"
        + "tcti = \"swtpm:host=127.0.0.1,port=2321\"\n");
    assertThat(c.directory()).isEqualTo(Path.of("/var/lib/spire/agent/tpm-keys"));
    assertThat(c.tpmDescription()).isEqualTo("swtpm:host=127.0.0.1,port=2321");
    assertThat(c.timeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(TpmKeyManagerConfig.parse("directory = \"k\"\nswtpm_address = \"127.0.0.1:2321\"\n").warnings())
        .anyMatch(w -> w.contains("swtpm_address is an old name"));
    assertThatThrownBy(() -> TpmKeyManagerConfig.parse("")).isInstanceOf(HclException.class)
        .hasMessageContaining("directory is required");
    assertThatThrownBy(() -> TpmKeyManagerConfig.parse("directory = \"k\"\ntimeout = \"30s\"\n"))
        .hasMessageContaining("timeout must be between 1ms and 25s");
    assertThatThrownBy(() -> TpmKeyManagerConfig.parse("directory = \"k\"\ntimeout = \"999us\"\n"))
        .hasMessageContaining("timeout must be between 1ms and 25s");
    assertThatThrownBy(() -> TpmKeyManagerConfig.parse("directory = \"k\"\ndirectroy = \"x\"\n"))
        .hasMessageContaining("unknown setting directroy: did you mean directory?");
    assertThat(new TpmKeyManagerPlugin().validate(CoreConfiguration.getDefaultInstance(), "").notes())
        .containsExactly("keylime_tpm plugin_data: directory is required");
  }

  @Test
  void theNodeAttestorReadsSvidKeyDirectory() throws Exception {
    String base = "keylime_agent_uuid = \"0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10\"\napp_key_path = \"a.blob\"\n";
    assertThat(AgentConfig.parse(base).svidKeyDirectory()).isEmpty();
    assertThat(AgentConfig.parse(base + "svid_key_directory = \"/var/lib/spire/agent/tpm-keys\"\n").svidKeyDirectory())
        .contains(Path.of("/var/lib/spire/agent/tpm-keys"));
  }
}
