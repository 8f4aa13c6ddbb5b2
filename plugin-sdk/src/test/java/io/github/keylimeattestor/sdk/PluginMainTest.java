package io.github.keylimeattestor.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

  @Test
  void socketDirectoriesAreNewAndOwnerOnly(@TempDir Path parent) throws IOException {
    Path a = PluginMain.createSocketDirectory(parent);
    Path b = PluginMain.createSocketDirectory(parent);
    assertThat(a).isNotEqualTo(b).hasParentRaw(parent);
    assertThat(a.getFileName().toString()).matches("plugin\\d+");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(a))).isEqualTo("rwx------");
    assertThat(Files.list(a)).isEmpty();
  }

  /** A plugin of {@code type}; only its type matters here. */
  static Plugin ofType(String type) {
    return new Plugin() {
      @Override
      public String name() {
        return type.toLowerCase(java.util.Locale.ROOT);
      }

      @Override
      public String type() {
        return type;
      }

      @Override
      public void configure(io.github.keylimeattestor.proto.spire.config.CoreConfiguration core, String hcl) {}

      @Override
      public Validation validate(io.github.keylimeattestor.proto.spire.config.CoreConfiguration core, String hcl) {
        return Validation.ok(java.util.List.of());
      }
    };
  }

  @Test
  void theCookieChoosesWhichPluginTheExecutableServes() {
    Plugin attestor = ofType("NodeAttestor");
    Plugin keyManager = ofType("KeyManager");
    assertThat(PluginMain.choose(Map.of("NodeAttestor", "NodeAttestor"), attestor, keyManager)).isSameAs(attestor);
    assertThat(PluginMain.choose(Map.of("KeyManager", "KeyManager"), attestor, keyManager)).isSameAs(keyManager);
    assertThat(PluginMain.choose(Map.of("KeyManager", "NodeAttestor"), attestor, keyManager)).isNull();
    assertThat(PluginMain.choose(Map.of("CredentialComposer", "CredentialComposer"), attestor, keyManager)).isNull();
    assertThat(PluginMain.checkEnvironment(Map.of("KeyManager", "KeyManager"), "KeyManager")).isNull();
    assertThatThrownBy(attestor::nodeAttestor).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(keyManager::pluginService).hasMessageContaining("(a KeyManager plugin) implements neither");
  }
}
