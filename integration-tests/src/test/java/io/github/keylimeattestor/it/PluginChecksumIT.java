package io.github.keylimeattestor.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** SPIRE checks plugin_checksum against the single executable file: a wrong sum is refused. */
class PluginChecksumIT {

  @Test
  void wrongChecksumIsRefusedByTheServer() throws Exception {
    Path exe = Path.of(System.getProperty("test.attestor"));
    String sha = Files.readString(Path.of(exe + ".sha256")).split("\\s+")[0];
    String wrong = (sha.charAt(0) == '0' ? "1" : "0") + sha.substring(1);
    try (SpireTestbed bed = new SpireTestbed()) {
      SpireProcess server = bed.startServer("", """
            NodeAttestor "test_attestor" {
              plugin_cmd = "%s"
              plugin_args = ["server"]
              plugin_checksum = "%s"
              plugin_data {
                shared_secret = "x"
              }
            }
          """.formatted(exe, wrong));
      assertThat(server.process().waitFor(60, TimeUnit.SECONDS)).as("server should exit").isTrue();
      assertThat(server.process().exitValue()).isNotZero();
      assertThat(server.tail()).contains("checksums did not match");
      assertThat(server.stop(Duration.ofSeconds(1))).isNotZero();
    }
  }
}
