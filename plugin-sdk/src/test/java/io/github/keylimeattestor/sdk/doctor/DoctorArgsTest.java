package io.github.keylimeattestor.sdk.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DoctorArgsTest {
  @TempDir Path dir;

  @Test
  void readsConfigExpandEnvInEitherSpellingAndTheServersUuid() {
    assertThat(DoctorArgs.parse(new String[] {"doctor", "--config", "a.conf"}, false))
        .contains(new DoctorArgs(Path.of("a.conf"), false, Optional.empty()));
    assertThat(DoctorArgs.parse(new String[] {"doctor", "-expandEnv", "--config", "a.conf"}, false))
        .contains(new DoctorArgs(Path.of("a.conf"), true, Optional.empty()));
    assertThat(DoctorArgs.parse(new String[] {"doctor", "--config", "s.conf", "--uuid", "u1", "--expand-env"}, true))
        .contains(new DoctorArgs(Path.of("s.conf"), true, Optional.of("u1")));
  }

  @Test
  void goFlagSpellingsOfExpandEnv() {
    assertThat(DoctorArgs.parse(new String[] {"doctor", "--config", "a", "-expandEnv=true"}, false).get().expandEnv())
        .isTrue();
    assertThat(DoctorArgs.parse(new String[] {"doctor", "--expandEnv", "--config", "a"}, false).get().expandEnv())
        .isTrue();
    assertThat(DoctorArgs.parse(new String[] {"doctor", "--config", "a", "-expandEnv=false"}, false).get().expandEnv())
        .isFalse();
  }

  /** The process's own environment read from /proc, as Go reads it; its ASCII variables as Java reads them. */
  @Test
  void theEnvironmentIsTheProcesssOwn() {
    Map<String, String> env = DoctorArgs.processEnvironment();
    assertThat(env).containsEntry("PATH", System.getenv("PATH"));
    System.getenv().forEach((k, v) -> {
      if (v.chars().allMatch(c -> c < 128)) {
        assertThat(env).containsEntry(k, v);
      }
    });
  }

  @Test
  void anythingElseIsAUsageError() {
    for (String[] args : new String[][] {{"doctor"}, {"doctor", "--config"}, {"doctor", "--config", "a", "--config", "b"},
        {"doctor", "--config", "a", "--uuid"}, {"doctor", "--config", "a", "--verbose"}, {"doctor", "a.conf"}}) {
      assertThat(DoctorArgs.parse(args, true)).as(String.join(" ", args)).isEmpty();
    }
    assertThat(DoctorArgs.parse(new String[] {"doctor", "--config", "a", "--uuid", "u"}, false)).as("agent: no --uuid")
        .isEmpty();
  }

  @Test
  void expandsTheSpireConfigurationButNotItsPluginDataFile() throws Exception {
    Files.writeString(dir.resolve("data.hcl"), "tcti = \"${TCTI}\"\n");
    Files.writeString(dir.resolve("agent.conf"), "agent { trust_domain = \"${TD}\" }\nplugins {\n"
        + "  NodeAttestor \"keylime\" { plugin_data { tcti = \"${TCTI}\" } }\n}\n");
    Map<String, String> env = Map.of("TD", "example.org", "TCTI", "device:/dev/tpmrm0");
    PluginDataFile expanded = PluginDataFile.read(dir.resolve("agent.conf"), "keylime", env::get);
    assertThat(expanded.trustDomain()).isEqualTo("example.org");
    assertThat(expanded.pluginData()).contains("\"device:/dev/tpmrm0\"");
    assertThat(PluginDataFile.read(dir.resolve("agent.conf"), "keylime").pluginData()).contains("${TCTI}");

    Files.writeString(dir.resolve("agent.conf"), "plugins {\n  NodeAttestor \"keylime\" { plugin_data_file = \""
        + dir.resolve("data.hcl") + "\" }\n}\n");
    assertThat(PluginDataFile.read(dir.resolve("agent.conf"), "keylime", env::get).pluginData())
        .as("SPIRE reads plugin_data_file as it is").isEqualTo("tcti = \"${TCTI}\"\n");
  }
}
