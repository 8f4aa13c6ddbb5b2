package io.github.keylimeattestor.dist;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Two clean builds of the plugin executables, in two different directories, are byte-identical
 * (scripts/check-reproducible.sh; about 1.5 minutes on 2 cores). Operators pin plugin_checksum, so
 * anyone rebuilding a release from its commit must get the same sha256.
 */
class ReproducibleBuildIT {
  @Test
  void twoCleanBuildsGiveTheSameSha256() throws Exception {
    String out = Tools.run(Tools.projectFile("."), "bash", "scripts/check-reproducible.sh");
    assertThat(out).contains("keylime-attestor-agent", "keylime-attestor-server").endsWith("reproducible\n");
    String[] builds = out.split("build b:\n");
    assertThat(builds[0].replace("build a:\n", "")).isEqualTo(builds[1].replace("reproducible\n", ""));
  }
}
