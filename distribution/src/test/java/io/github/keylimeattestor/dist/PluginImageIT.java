package io.github.keylimeattestor.dist;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin image (an OCI image layout in a tar, built by Jib without a Docker daemon), read as a
 * registry or containerd would: index.json, manifest, config, layers, every blob by its digest.
 */
class PluginImageIT {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path layout;
  @TempDir static Path rootfs;
  static JsonNode manifest;
  static JsonNode config;
  static List<Tools.TarEntry> files = new ArrayList<>();

  @BeforeAll
  static void unpack() throws Exception {
    Tools.run(layout, "tar", "-xf", Tools.file("image.tar").toString());
    assertThat(JSON.readTree(layout.resolve("oci-layout").toFile()).path("imageLayoutVersion").asText()).isEqualTo("1.0.0");
    JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
    assertThat(index.path("manifests")).hasSize(1);
    manifest = JSON.readTree(blob(index.path("manifests").get(0)).toFile());
    assertThat(manifest.path("mediaType").asText()).isEqualTo("application/vnd.oci.image.manifest.v1+json");
    config = JSON.readTree(blob(manifest.path("config")).toFile());
    for (JsonNode layer : manifest.path("layers")) {
      assertThat(layer.path("mediaType").asText()).isEqualTo("application/vnd.oci.image.layer.v1.tar+gzip");
      Path tgz = blob(layer);
      files.addAll(Tools.list(tgz, "-tvzf"));
      Tools.run(rootfs, "tar", "-xzf", tgz.toString());
    }
  }

  /** The blob a descriptor names, after checking its size and sha256 digest. */
  static Path blob(JsonNode descriptor) throws Exception {
    String digest = descriptor.path("digest").asText();
    assertThat(digest).startsWith("sha256:");
    Path p = layout.resolve("blobs/sha256").resolve(digest.substring(7));
    assertThat(Files.size(p)).isEqualTo(descriptor.path("size").asLong());
    assertThat("sha256:" + Tools.sha256(p)).isEqualTo(digest);
    return p;
  }

  @Test
  void executablesAreAtTheFixedPathWithMode755AndAreTheBuiltOnes() throws Exception {
    String dir = System.getProperty("image.plugin.dir").substring(1);
    for (String name : ReleaseBundleIT.EXECUTABLES) {
      assertThat(files).as(name).filteredOn(e -> e.path().equals(dir + "/" + name))
          .extracting(Tools.TarEntry::mode).containsExactly("-rwxr-xr-x");
      String module = name.endsWith("agent") ? "plugin-agent" : "plugin-server";
      assertThat(Tools.sha256(rootfs.resolve(dir).resolve(name)))
          .isEqualTo(Tools.sha256(Tools.projectFile(module + "/target/" + name)));
      assertThat(Files.readString(rootfs.resolve(dir).resolve(name + ".sha256")))
          .startsWith(Tools.sha256(rootfs.resolve(dir).resolve(name)) + "  ");
    }
  }

  @Test
  void nothingElseIsExecutableAndThereIsNoOperatingSystemInside() {
    String dir = System.getProperty("image.plugin.dir").substring(1);
    assertThat(files).filteredOn(e -> e.mode().startsWith("-") && e.mode().indexOf('x') >= 0)
        .extracting(Tools.TarEntry::path)
        .containsExactlyInAnyOrder(dir + "/keylime-attestor-agent", dir + "/keylime-attestor-server");
    assertThat(files).extracting(Tools.TarEntry::path)
        .noneMatch(p -> p.startsWith("bin/") || p.startsWith("usr/") || p.startsWith("etc/") || p.startsWith("lib"));
  }

  @Test
  void configIsReproducibleAndLabelled() {
    assertThat(config.path("os").asText()).isEqualTo("linux");
    assertThat(config.path("created").asText()).isEqualTo("1970-01-01T00:00:00Z");
    assertThat(config.path("config").path("Labels").path("org.opencontainers.image.version").asText())
        .isEqualTo(System.getProperty("expected.version"));
    assertThat(config.path("config").path("Labels").path("org.opencontainers.image.licenses").asText())
        .isEqualTo("Apache-2.0");
    assertThat(config.path("rootfs").path("diff_ids")).hasSize(manifest.path("layers").size());
  }
}
