package io.github.keylimeattestor.dist;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The tar.gz that `./mvnw package` writes, read back with the system's tar. */
class ReleaseBundleIT {
  static final String[] EXECUTABLES = {"keylime-attestor-agent", "keylime-attestor-server"};
  /**
   * junixsocket's native library (dbus-java's transport to tpm2-abrmd, the agent's only; one jar
   * carries every platform) for each Linux architecture, and the ELF e_machine it must carry.
   */
  static final Map<String, Integer> AGENT_NATIVES = Map.of(
      "lib/amd64-Linux-clang/jni/libjunixsocket-native-2.10.0.so", 62, // EM_X86_64
      "lib/aarch64-Linux-clang/jni/libjunixsocket-native-2.10.0.so", 183); // EM_AARCH64

  @TempDir static Path unpacked;
  static Path base;
  static List<Tools.TarEntry> entries;

  @BeforeAll
  static void unpack() throws Exception {
    Path tar = Tools.file("bundle.tar");
    entries = Tools.list(tar, "-tvzf");
    Tools.run(unpacked, "tar", "-xzf", tar.toString());
    base = unpacked.resolve(System.getProperty("bundle.name"));
  }

  @Test
  void holdsExecutablesChecksumsSbomExamplesDocsAndLicence() {
    List<String> names = entries.stream().map(Tools.TarEntry::path).toList();
    String b = System.getProperty("bundle.name") + "/";
    assertThat(names).contains(b + "bin/keylime-attestor-agent", b + "bin/keylime-attestor-agent.sha256",
        b + "bin/keylime-attestor-server", b + "bin/keylime-attestor-server.sha256",
        b + "sbom/keylime-attestor.cdx.json", b + "LICENSE", b + "NOTICE", b + "CHANGELOG.md", b + "INSTALL.md",
        b + "examples/spire-conf/agent.conf", b + "examples/spire-conf/server.conf",
        b + "examples/helm/values-keylime.yaml", b + "examples/systemd/spire-agent.service.d/keylime.conf",
        b + "examples/prometheus/keylime-attestor-rules.yaml", b + "examples/grafana/keylime-attestor-dashboard.json",
        b + "README.md", b + "SECURITY.md", b + "plugin-agent/README.md", b + "plugin-server/README.md",
        b + "docs/troubleshooting.md", b + "docs/reference.md");
    assertThat(names).allMatch(n -> n.startsWith(b), "everything under one top directory");
  }

  /** A document of the bundle that links to another (install.md to a README, say) finds it in the bundle. */
  @Test
  void everyRelativeLinkBetweenTheDocumentsResolvesInTheBundle() throws Exception {
    java.util.regex.Pattern link = java.util.regex.Pattern.compile("\\]\\(([^)\\s]+)\\)");
    List<String> missing = new ArrayList<>();
    int checked = 0;
    try (var files = Files.walk(base)) {
      for (Path md : files.filter(f -> f.toString().endsWith(".md")).toList()) {
        java.util.regex.Matcher m = link.matcher(Files.readString(md));
        while (m.find()) {
          String target = m.group(1);
          if (target.startsWith("http:") || target.startsWith("https:") || target.startsWith("#")
              || target.startsWith("mailto:")) {
            continue;
          }
          checked++;
          Path to = md.getParent().resolve(target.replaceFirst("#.*", "")).normalize();
          if (!to.startsWith(base) || !Files.exists(to)) {
            missing.add(base.relativize(md) + " -> " + target);
          }
        }
      }
    }
    assertThat(checked).as("links between the documents").isGreaterThan(5);
    assertThat(missing).as("links to files the bundle lacks").isEmpty();
  }

  @Test
  void onlyTheTwoExecutablesAreExecutable() {
    List<String> executable = entries.stream()
        .filter(e -> e.mode().startsWith("-") && e.mode().indexOf('x') >= 0).map(Tools.TarEntry::path).toList();
    String b = System.getProperty("bundle.name") + "/bin/";
    assertThat(executable).containsExactlyInAnyOrder(b + EXECUTABLES[0], b + EXECUTABLES[1]);
    assertThat(entries).filteredOn(e -> e.path().endsWith("/" + EXECUTABLES[0]))
        .extracting(Tools.TarEntry::mode).containsExactly("-rwxr-xr-x");
    assertThat(entries).filteredOn(e -> e.mode().startsWith("-")).extracting(Tools.TarEntry::mode)
        .allMatch(m -> m.equals("-rwxr-xr-x") || m.equals("-rw-r--r--"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"keylime-attestor-agent", "keylime-attestor-server"})
  void checksumFileMatchesTheExecutableAndTheBuildOutput(String name) throws Exception {
    Path exe = base.resolve("bin").resolve(name);
    String line = Files.readString(base.resolve("bin").resolve(name + ".sha256"), StandardCharsets.US_ASCII);
    assertThat(line).isEqualTo(Tools.sha256(exe) + "  " + name + "\n");
    String module = name.endsWith("agent") ? "plugin-agent" : "plugin-server";
    assertThat(Tools.sha256(exe)).isEqualTo(Tools.sha256(Tools.projectFile(module + "/target/" + name)));
  }

  @Test
  void theAgentCarriesTheAbrmdTransportsNativeLibraryForBothLinuxArchitectures() throws Exception {
    try (ZipFile jar = new ZipFile(base.resolve("bin").resolve("keylime-attestor-agent").toFile())) {
      // junixsocket looks its libraries up through this class of the same artifact (SharedTpmIT runs them)
      assertThat(jar.getEntry("org/newsclub/lib/junixsocket/common/NarMetadata.class")).isNotNull();
      for (Map.Entry<String, Integer> n : AGENT_NATIVES.entrySet()) {
        ZipEntry e = jar.getEntry(n.getKey());
        assertThat(e).as(n.getKey()).isNotNull();
        try (InputStream in = jar.getInputStream(e)) {
          byte[] header = in.readNBytes(20);
          assertThat(new String(header, 1, 3, StandardCharsets.US_ASCII)).isEqualTo("ELF");
          int machine = ByteBuffer.wrap(header, 18, 2).order(ByteOrder.LITTLE_ENDIAN).getShort() & 0xffff;
          assertThat(machine).as("ELF e_machine of %s", n.getKey()).isEqualTo(n.getValue());
        }
      }
    }
  }

  /**
   * Native code that never runs is not shipped: no Netty epoll in either plugin (both use the JDK's
   * Unix-domain channels), no D-Bus or junixsocket in the server (it talks to no TPM), and in the
   * agent junixsocket's library for Linux x86_64 and aarch64 only.
   */
  @ParameterizedTest
  @ValueSource(strings = {"keylime-attestor-agent", "keylime-attestor-server"})
  void noNativeCodeThatNeverRuns(String name) throws Exception {
    try (ZipFile jar = new ZipFile(base.resolve("bin").resolve(name).toFile())) {
      List<String> names = jar.stream().map(ZipEntry::getName).toList();
      assertThat(names).noneMatch(n -> n.contains("netty_transport_native_epoll") || n.startsWith("io/netty/channel/epoll/"));
      if (name.endsWith("server")) {
        assertThat(names).noneMatch(n -> n.endsWith(".so") || n.startsWith("org/freedesktop/")
            || n.startsWith("org/newsclub/"));
      } else {
        List<String> natives = names.stream().filter(n -> n.startsWith("lib/") && !n.endsWith("/")).toList();
        assertThat(natives).isNotEmpty().allMatch(n -> n.startsWith("lib/amd64-Linux-clang/jni/")
            || n.startsWith("lib/aarch64-Linux-clang/jni/"));
        assertThat(names).noneMatch(n -> n.endsWith(".dll") || n.endsWith(".dylib") || n.endsWith(".jnilib"));
      }
    }
  }

  /**
   * Keylime's answers are read into keylime-client's Json with Jackson's streaming parser: no
   * jackson-databind in the server. The agent keeps it only under jackson-dataformat-toml, which reads
   * agent.conf (keylime_agent_config) and nothing else.
   */
  @Test
  void noJacksonDatabindInTheServer() throws Exception {
    try (ZipFile jar = new ZipFile(base.resolve("bin").resolve("keylime-attestor-server").toFile())) {
      List<String> names = jar.stream().map(ZipEntry::getName).toList();
      assertThat(names).anyMatch(n -> n.startsWith("com/fasterxml/jackson/core/"))
          .noneMatch(n -> n.startsWith("com/fasterxml/jackson/databind/") || n.startsWith("com/fasterxml/jackson/dataformat/"));
    }
  }

  @Test
  void sbomIsCycloneDxAndListsWhatIsShaded() throws Exception {
    JsonNode bom = new ObjectMapper().readTree(base.resolve("sbom/keylime-attestor.cdx.json").toFile());
    assertThat(bom.path("bomFormat").asText()).isEqualTo("CycloneDX");
    assertThat(bom.path("specVersion").asText()).isNotEmpty();
    List<String> purls = new ArrayList<>();
    bom.path("components").forEach(c -> purls.add(c.path("purl").asText()));
    assertThat(purls).anyMatch(p -> p.startsWith("pkg:maven/io.grpc/grpc-netty@"))
        .anyMatch(p -> p.startsWith("pkg:maven/org.bouncycastle/bcprov-jdk18on@"))
        .anyMatch(p -> p.startsWith("pkg:maven/io.github.keylimeattestor/plugin-agent@"))
        .anyMatch(p -> p.startsWith("pkg:maven/io.github.keylimeattestor/plugin-server@"))
        .anyMatch(p -> p.startsWith("pkg:maven/com.kohlschutter.junixsocket/junixsocket-native-common@"))
        .noneMatch(p -> p.contains("netty-transport-native-epoll@") || p.contains("netty-transport-classes-epoll@"))
        .noneMatch(p -> p.contains("/junit") || p.contains("/assertj"));
    assertThat(bom.path("components")).allMatch(c -> c.has("hashes"), "every component has hashes");
  }

  @ParameterizedTest
  @ValueSource(strings = {"keylime-attestor-agent", "keylime-attestor-server"})
  void versionFlagPrintsNameVersionAndCommit(String name) throws Exception {
    String out = Tools.run(base, base.resolve("bin").resolve(name).toString(), "--version");
    String version = System.getProperty("expected.version");
    assertThat(out).startsWith(name + " " + version + " (commit ").contains("built ");
    assertThat(out.lines().collect(Collectors.toList())).hasSize(1);
  }
}
