package io.github.keylimeattestor.sdk.doctor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.hcl.HclParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PluginDataFileTest {
  @TempDir Path dir;

  static Path example(String name) {
    return Path.of(System.getProperty("project.root", "..")).resolve("examples/spire-conf").resolve(name);
  }

  @Test
  void takesNodeAttestorKeylimesPluginDataOutOfTheShippedSpireConfigs() throws Exception {
    PluginDataFile server = PluginDataFile.read(example("server.conf"), "keylime");
    assertThat(server.trustDomain()).isEqualTo("example.org");
    Map<String, Object> data = HclParser.parse(server.pluginData());
    assertThat(data).containsEntry("registrar_urls", List.of("https://keylime-registrar.example.org:8891"))
        .containsEntry("require_ek_cert", true).doesNotContainKey("database_type");
    assertThat(data.get("pcr_policy")).isEqualTo(Map.of("bank", "sha256", "pcrs", List.of(0L, 7L, 16L)));
    assertThat(data.get("agent_path_template")).isEqualTo("/{{ .PluginName }}/{{ .UUID }}");

    PluginDataFile agent = PluginDataFile.read(example("agent.conf"), "keylime");
    assertThat(HclParser.parse(agent.pluginData())).containsEntry("tcti", "device:/dev/tpmrm0");
    assertThat(agent.source()).endsWith("NodeAttestor \"keylime\" plugin_data");
    assertThat(agent.fromSpireConfiguration()).isTrue();

    // the agent doctor compares svid_key_directory with this block
    PluginDataFile keyManager = PluginDataFile.find(example("agent.conf"), "KeyManager", "keylime_tpm", null).orElseThrow();
    assertThat(HclParser.parse(keyManager.pluginData())).containsKey("directory");
    assertThat(keyManager.source()).endsWith("KeyManager \"keylime_tpm\" plugin_data");
    assertThat(PluginDataFile.find(example("agent.conf"), "KeyManager", "disk", null)).isEmpty();
  }

  @Test
  void reprintingKeepsQuotesBackslashesNestedBlocksAndLists() throws Exception {
    Map<String, Object> body = HclParser.parse("a = \"x \\\"q\\\" \\\\ y\"\nb { c = [1, 2]\n d { \"7\" = \"ab\" } }\n"
        + "e = false\n");
    assertThat(HclParser.parse(HclPrinter.print(body))).isEqualTo(body);
  }

  @Test
  void aBareBodyIsTheNodeAttestorsAndHoldsNoOtherBlock() throws Exception {
    Path body = Files.writeString(dir.resolve("bare.hcl"), "tpm_device = \"/dev/tpmrm0\"\n");
    assertThat(PluginDataFile.read(body, "keylime").fromSpireConfiguration()).isFalse();
    assertThat(PluginDataFile.find(body, "KeyManager", "keylime_tpm", null)).isEmpty();
  }

  @Test
  void followsPluginDataFileAndAcceptsABareBody() throws Exception {
    Files.writeString(dir.resolve("keylime.hcl"), "tpm_device = \"/dev/tpmrm0\"\n");
    // relative, as SPIRE reads it: from the working directory, not from the configuration's directory
    Path relative = Path.of("").toAbsolutePath().relativize(dir.resolve("keylime.hcl"));
    Files.writeString(dir.resolve("agent.conf"), "agent { trust_domain = \"td\" }\nplugins {\n"
        + "  KeyManager \"disk\" { plugin_data { directory = \"/x\" } }\n"
        + "  NodeAttestor \"keylime\" {\n    plugin_data_file = \"" + relative + "\"\n  }\n}\n");
    PluginDataFile f = PluginDataFile.read(dir.resolve("agent.conf"), "keylime");
    assertThat(f.pluginData()).isEqualTo("tpm_device = \"/dev/tpmrm0\"\n");
    assertThat(f.source()).contains("read from the current directory");
    assertThat(f.trustDomain()).isEqualTo("td");
    PluginDataFile bare = PluginDataFile.read(dir.resolve("keylime.hcl"), "keylime");
    assertThat(bare.pluginData()).isEqualTo("tpm_device = \"/dev/tpmrm0\"\n");
    assertThat(bare.trustDomain()).isNull();
  }

  @Test
  void readsAJsonSpireConfigAsTheHelmChartsWriteIt() throws Exception {
    Files.writeString(dir.resolve("agent.conf"), """
        {
          "agent": {"trust_domain": "example.org", "data_dir": "/run/spire/data"},
          "plugins": {
            "KeyManager": [{"memory": {"plugin_data": null}}],
            "NodeAttestor": [{"keylime": {"plugin_cmd": "/opt/spire/plugins/keylime-attestor-agent",
              "plugin_data": {"tcti": "device:/dev/tpmrm0", "timeout": "10s", "retries": 3, "strict": true,
                "tls": {"ca_bundle": "/x/ca.pem"}, "pcrs": [0, 7]}}}]
          }
        }
        """);
    PluginDataFile f = PluginDataFile.read(dir.resolve("agent.conf"), "keylime");
    assertThat(f.trustDomain()).isEqualTo("example.org");
    assertThat(HclParser.parse(f.pluginData())).containsEntry("tcti", "device:/dev/tpmrm0").containsEntry("retries", 3L)
        .containsEntry("strict", true).containsEntry("tls", Map.of("ca_bundle", "/x/ca.pem"))
        .containsEntry("pcrs", List.of(0L, 7L));
  }

  @Test
  void aConfigLongerThanPluginDataMayBeIsRead() throws Exception {
    // SPIRE configurations run to tens of kilobytes; only plugin_data itself has the plugin's 16 KiB bound
    Files.writeString(dir.resolve("server.conf"), "# " + "x".repeat(40_000) + "\nplugins {\n  NodeAttestor \"keylime\" {\n"
        + "    plugin_data { a = 1 }\n  }\n}\n");
    assertThat(HclParser.parse(PluginDataFile.read(dir.resolve("server.conf"), "keylime").pluginData()))
        .containsEntry("a", 1L);
  }

  /** A FIFO (which would block the doctor) or a file past 1 MiB, as the configuration or its plugin_data_file. */
  @Test
  void aFifoOrAnOversizedFileIsRefusedWithoutReadingIt() throws Exception {
    Path fifo = dir.resolve("fifo.conf");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    assertThat(java.util.concurrent.CompletableFuture.supplyAsync(() ->
        org.assertj.core.api.Assertions.catchThrowable(() -> PluginDataFile.read(fifo, "keylime")))
        .get(30, java.util.concurrent.TimeUnit.SECONDS)).isInstanceOf(HclException.class)
        .hasMessageContaining(fifo + " is not a regular file");
    Path big = dir.resolve("big.hcl");
    try (var ch = java.nio.channels.FileChannel.open(big, java.nio.file.StandardOpenOption.CREATE_NEW,
        java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {'\n'}), 100L << 20); // sparse, 100 MB
    }
    Files.writeString(dir.resolve("server.conf"), "plugins {\n  NodeAttestor \"keylime\" {\n    plugin_data_file = \""
        + big + "\"\n  }\n}\n");
    assertThatThrownBy(() -> PluginDataFile.read(dir.resolve("server.conf"), "keylime"))
        .isInstanceOf(HclException.class).hasMessageContaining(big + " is larger than 1048576 bytes");
  }

  @Test
  void aSpireConfigWithoutOurPluginIsNamed() throws Exception {
    Files.writeString(dir.resolve("x.conf"), "plugins {\n  NodeAttestor \"join_token\" {\n    plugin_data {}\n  }\n}\n");
    assertThatThrownBy(() -> PluginDataFile.read(dir.resolve("x.conf"), "keylime"))
        .isInstanceOf(HclException.class).hasMessageContaining("no NodeAttestor \"keylime\"");
  }
}
