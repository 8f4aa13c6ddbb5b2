package io.github.keylimeattestor.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class PluginMainTest {
  @Test
  void cookieAndProtocolVersionChecks() {
    assertThat(PluginMain.checkEnvironment(Map.of())).isEqualTo(PluginMain.NOT_A_PROGRAM);
    assertThat(PluginMain.checkEnvironment(Map.of("NodeAttestor", "KeyManager"))).isEqualTo(PluginMain.NOT_A_PROGRAM);
    assertThat(PluginMain.checkEnvironment(Map.of("NodeAttestor", "NodeAttestor"))).isNull();
    assertThat(PluginMain.checkEnvironment(Map.of("NodeAttestor", "NodeAttestor", "PLUGIN_PROTOCOL_VERSIONS", "2, 1"))).isNull();
    assertThat(PluginMain.checkEnvironment(Map.of("NodeAttestor", "NodeAttestor", "PLUGIN_PROTOCOL_VERSIONS", "2,3")))
        .startsWith("Incompatible API version");
  }
}
