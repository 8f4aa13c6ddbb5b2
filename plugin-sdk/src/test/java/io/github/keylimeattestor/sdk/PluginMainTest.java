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

  @Test
  void theSocketGoesWhereGoPluginsPutTheirs() {
    assertThat(PluginMain.socketParent(Map.of("PLUGIN_UNIX_SOCKET_DIR", "/run/spire/p", "TMPDIR", "/var/tmp")))
        .isEqualTo(java.nio.file.Path.of("/run/spire/p"));
    assertThat(PluginMain.socketParent(Map.of("TMPDIR", "/var/tmp"))).isEqualTo(java.nio.file.Path.of("/var/tmp"));
    assertThat(PluginMain.socketParent(Map.of())).isEqualTo(java.nio.file.Path.of("/tmp"));
  }

  @Test
  void topFramesJoinsTheFirstFramesOfAStackForOneLogLine() {
    Throwable deep = new StackOverflowError("deep");
    deep.setStackTrace(new StackTraceElement[] {
        new StackTraceElement("a.B", "c", "B.java", 1), new StackTraceElement("a.B", "c", "B.java", 2),
        new StackTraceElement("a.D", "e", "D.java", 3)});
    assertThat(PluginMain.topFrames(deep, 2)).isEqualTo("a.B.c(B.java:1) < a.B.c(B.java:2)");
  }

  @Test
  void anArchiveTheJvmGivenItDoesNotShareIsReported() {
    // java.vm.info as Java 17 and 25 print it: "sharing" only while an archive is mapped
    assertThat(PluginMain.warnIfTheArchiveWasRefused("/opt/p/agent.jsa", "mixed mode, emulated-client, sharing")).isEmpty();
    assertThat(PluginMain.warnIfTheArchiveWasRefused(null, "mixed mode")).isEmpty();
    assertThat(PluginMain.warnIfTheArchiveWasRefused("/opt/p/agent.jsa", "mixed mode, emulated-client")).get()
        .asString().contains("did not use the plugin's class-data archive").endsWith("/opt/p/agent --train-cds");
  }
}
