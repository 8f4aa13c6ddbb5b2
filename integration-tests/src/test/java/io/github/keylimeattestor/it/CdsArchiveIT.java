package io.github.keylimeattestor.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The launcher's class-data archive ({@code <plugin> --train-cds}, packaging/launcher.sh): trained from
 * any path it is used from any working directory, and it is used only when root or the user running
 * the plugin owns it and neither group nor others can write it, since plugin_checksum does not cover it. Whether
 * the JVM mapped it is read from the JVM's own class-load log: our classes "source: shared objects
 * file" come from it (the JDK's default archive, used otherwise, holds none of ours). Works on a copy
 * of the agent executable, so target/ stays as built.
 */
class CdsArchiveIT {
  static final String FROM_ARCHIVE = "io.github.keylimeattestor.sdk.PluginMain source: shared objects file";

  @TempDir Path work;

  Path install() throws Exception {
    Path dir = Files.createDirectories(work.resolve("plugins"));
    Path exe = dir.resolve("keylime-attestor-agent");
    Files.copy(PluginExecutableIT.executable("keylime-attestor-agent"), exe, StandardCopyOption.COPY_ATTRIBUTES);
    return exe;
  }

  /** Runs {@code command} in {@code dir} to its end and returns its exit code; its output goes to stderr. */
  static int run(Path dir, List<String> command) throws Exception {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectOutput(ProcessBuilder.Redirect.INHERIT)
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("%s ends", command).isTrue();
      return p.exitValue();
    } finally {
      p.destroyForcibly();
    }
  }

  /** What SPIRE does: starts {@code exe} from another directory, up to the handshake, then stops it. */
  record Started(String stdout, String stderr) {}

  Started startFromElsewhere(Path exe) throws Exception {
    return startFromElsewhere(exe, Map.of());
  }

  /** As {@link #startFromElsewhere(Path)} with extra environment, e.g. KEYLIME_ATTESTOR_JAVA. */
  Started startFromElsewhere(Path exe, Map<String, String> env) throws Exception {
    Path elsewhere = Files.createDirectories(work.resolve("elsewhere/deeper"));
    Path err = work.resolve("stderr.log");
    ProcessBuilder pb = new ProcessBuilder(exe.toString()).directory(elsewhere.toFile())
        .redirectError(err.toFile());
    pb.environment().put("NodeAttestor", "NodeAttestor");
    pb.environment().put("PLUGIN_PROTOCOL_VERSIONS", "1");
    // -Xshare:on: a JVM that cannot map an archive it is given fails instead of going on without it.
    pb.environment().put("KEYLIME_ATTESTOR_JAVA_OPTS", "-Xshare:on -Xlog:class+load=info:stderr");
    pb.environment().remove("KEYLIME_ATTESTOR_CDS");
    pb.environment().putAll(env);
    Process p = pb.start();
    try {
      BufferedReader stdout = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
      String line = stdout.readLine();
      assertThat(line).as("handshake line; stderr:%n%s", Files.exists(err)
          ? String.join("\n", Files.readAllLines(err).stream().filter(l -> !l.startsWith("[")).toList()) : "")
          .matches(PluginExecutableIT.HANDSHAKE); // (the JVM's errors, without its class-load lines)
      p.toHandle().destroy(); // SIGTERM; Process.destroy() would also close the stdout still to be read
      assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
      StringBuilder rest = new StringBuilder();
      for (String l = stdout.readLine(); l != null; l = stdout.readLine()) {
        rest.append(l).append('\n');
      }
      assertThat(rest.toString()).as("nothing but the handshake on stdout").isEmpty();
      return new Started(line, Files.readString(err));
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * Trained and started from a directory whose name holds a space, on every JVM of this machine (the
   * one running the tests and any under /usr/lib/jvm). Java 24 and newer archive the plugin's classes
   * from such a path: the plugin then loads its own classes up to the handshake from the archive and
   * none from the jar. Java before 24 cannot (JDK-8339460: the class's source URL, "with%20space", is
   * compared with the jar's path undecoded; a hand run with a one-class jar shows the same): training
   * then fails, says why on stderr and leaves no archive, and the plugin still starts without one.
   */
  @ParameterizedTest
  @MethodSource("jvms")
  void trainingFromADirectoryWithASpaceIsUsedOrRefusedOutLoud(String java) throws Exception {
    Path dir = Files.createDirectories(work.resolve("with space"));
    Path exe = dir.resolve("keylime-attestor-agent");
    Files.copy(PluginExecutableIT.executable("keylime-attestor-agent"), exe, StandardCopyOption.COPY_ATTRIBUTES);
    Map<String, String> env = Map.of("KEYLIME_ATTESTOR_JAVA", java);
    Path err = work.resolve("train.err");
    ProcessBuilder pb = new ProcessBuilder(exe.toString(), "--train-cds").directory(dir.toFile())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile());
    pb.environment().putAll(env);
    Process train = pb.start();
    assertThat(train.waitFor(120, TimeUnit.SECONDS)).isTrue();
    String trainErr = Files.readString(err);
    Path archive = Path.of(exe + ".jsa");
    int version = specificationVersion(java);
    if (version >= 24) {
      assertThat(train.exitValue()).as("training on Java %d; stderr:%n%s", version, trainErr).isZero();
      assertThat(mode(archive)).isEqualTo("rw-r--r--");
      List<String> ours = startFromElsewhere(exe, env).stderr().lines()
          .filter(l -> l.contains("[class,load] io.github.keylimeattestor.")).toList();
      assertThat(ours).anyMatch(l -> l.endsWith(FROM_ARCHIVE));
      assertThat(ours.stream().filter(l -> l.contains("source: shared objects file")).count())
          .as("our classes from the archive").isGreaterThan(20);
      assertThat(ours).as("our classes read from the jar").noneMatch(l -> l.contains("source: file:"));
    } else {
      assertThat(train.exitValue()).as("training on Java %d", version).isEqualTo(1);
      assertThat(archive).doesNotExist();
      assertThat(trainErr.lines().filter(l -> l.startsWith("keylime-attestor: --train-cds made no class-data archive")))
          .singleElement().asString().contains(exe.toString()).contains("space").contains("JDK-8339460")
          .contains("Java 24 or newer");
      assertThat(startFromElsewhere(exe, env).stderr()).doesNotContain(FROM_ARCHIVE);
    }
  }

  /**
   * The JVMs on this machine the plugin runs on (Java 17 or newer): the one running this test and each
   * /usr/lib/jvm/<name>/bin/java, by real path.
   */
  static Stream<String> jvms() throws Exception {
    Set<Path> found = new LinkedHashSet<>();
    found.add(Path.of(System.getProperty("java.home"), "bin", "java").toRealPath());
    Path lib = Path.of("/usr/lib/jvm");
    if (Files.isDirectory(lib)) {
      try (Stream<Path> homes = Files.list(lib)) {
        for (Path h : homes.sorted().toList()) {
          Path java = h.resolve("bin/java");
          if (Files.isExecutable(java)) {
            found.add(java.toRealPath());
          }
        }
      }
    }
    List<String> usable = new ArrayList<>();
    for (Path java : found) {
      if (specificationVersion(java.toString()) >= 17) {
        usable.add(java.toString());
      }
    }
    return usable.stream();
  }

  /** java.specification.version of {@code java}, e.g. 17 or 25. */
  static int specificationVersion(String java) throws Exception {
    Process p = new ProcessBuilder(java, "-XshowSettings:properties", "-version").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    Matcher m = Pattern.compile("java\\.specification\\.version = (\\d+)").matcher(out);
    assertThat(m.find()).as("java.specification.version in%n%s", out).isTrue();
    return Integer.parseInt(m.group(1));
  }

  static void trainAbsolute(Path exe) throws Exception {
    assertThat(run(exe.getParent(), List.of(exe.toString(), "--train-cds"))).isZero();
  }

  static String mode(Path file) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
  }

  @ParameterizedTest
  @ValueSource(strings = {"sh keylime-attestor-agent", "./keylime-attestor-agent", "sh ../plugins/keylime-attestor-agent"})
  void trainedFromARelativePathIsUsedFromAnotherDirectory(String command) throws Exception {
    Path exe = install();
    Path sub = Files.createDirectories(work.resolve("sub"));
    Path trainDir = command.contains("../") ? sub : exe.getParent();
    List<String> argv = new ArrayList<>(List.of(command.split(" ")));
    argv.add("--train-cds");
    assertThat(run(trainDir, argv)).isZero();
    Path archive = Path.of(exe + ".jsa");
    assertThat(archive).isRegularFile();
    Started s = startFromElsewhere(exe);
    assertThat(s.stderr()).contains(FROM_ARCHIVE).doesNotContain("ignoring class-data archive");
    assertThat(mode(archive)).isEqualTo("rw-r--r--");
  }

  /**
   * The training round runs the attestation paths offline (Plugin.trainOffline), so the classes the
   * first attestation needs are in the archive: the JVM's own listing of it
   * (-XX:+PrintSharedArchiveAndExit) holds the agent_data.json reader and its JSON parser, the wire
   * format, the TPM command layer and the evidence checks, and for the server the Keylime clients over
   * mutual TLS; and no ObjectMapper, which the agent's
   * attestation no longer needs. The archive is a static one, the JDK's classes and ours.
   */
  @ParameterizedTest
  @ValueSource(strings = {"keylime-attestor-agent", "keylime-attestor-server"})
  void trainingArchivesTheAttestationPaths(String name) throws Exception {
    Path dir = Files.createDirectories(work.resolve("plugins"));
    Path exe = dir.resolve(name);
    Files.copy(PluginExecutableIT.executable(name), exe, StandardCopyOption.COPY_ATTRIBUTES);
    trainAbsolute(exe);
    Process p = new ProcessBuilder("java", "-XX:SharedArchiveFile=" + exe + ".jsa", "-XX:+PrintSharedArchiveAndExit",
        "-jar", exe.toString()).redirectErrorStream(true).start();
    String listing = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    List<String> expected = name.endsWith("agent")
        ? List.of("io.github.keylimeattestor.tpm.structure.AgentData ", "com.fasterxml.jackson.core.JsonFactory ",
            "io.github.keylimeattestor.tpm.KeylimeTpm ", "io.github.keylimeattestor.sovereign.WireFormat ",
            "io.github.keylimeattestor.proto.sovereign.SovereignAttestation ")
        : List.of("io.github.keylimeattestor.sovereign.EvidenceVerifier ", "io.github.keylimeattestor.sovereign.WireFormat ",
            "io.github.keylimeattestor.proto.sovereign.SovereignAttestation ",
            "io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestRequest ",
            // the Keylime exchanges (KeylimeTraining): mutual TLS, the HttpClient, the answers' readers
            "sun.security.ssl.SSLEngineImpl ", "sun.security.provider.certpath.PKIXCertPathValidator ",
            "jdk.internal.net.http.HttpClientImpl ", "io.github.keylimeattestor.keylime.RegistrarAgent ",
            "io.github.keylimeattestor.keylime.VerifierAgentStatus ");
    for (String c : expected) {
      assertThat(listing).as("%s in the archive of %s", c.strip(), name).contains(c);
    }
    // one static archive of the JDK's classes and ours in place of the JDK's default one, not a
    // dynamic archive over it; the class list it was made from is gone
    assertThat(listing).contains("Static archive name: " + exe + ".jsa").doesNotContain("Base archive name");
    assertThat(listing).contains("java.lang.Object ");
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(f -> f.getFileName().toString()))
          .containsExactlyInAnyOrder(name, name + ".jsa");
    }
    if (name.endsWith("agent")) {
      assertThat(listing).doesNotContain("com.fasterxml.jackson.databind.ObjectMapper ");
    }
  }

  @Test
  void groupOrOtherWritableArchiveIsIgnoredWithOneLineOnStderr() throws Exception {
    Path exe = install();
    trainAbsolute(exe);
    Path archive = Path.of(exe + ".jsa");
    for (String m : List.of("rw-rw-r--", "rw-r--rw-")) {
      Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString(m));
      Started s = startFromElsewhere(exe);
      assertThat(s.stderr()).doesNotContain(FROM_ARCHIVE);
      assertThat(s.stderr().lines().filter(l -> l.contains("ignoring class-data archive")).toList())
          .singleElement().asString()
          .contains(archive.toString()).contains("writable by group or others").contains("--train-cds");
    }
    Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString("rw-r--r--"));
    assertThat(startFromElsewhere(exe).stderr()).contains(FROM_ARCHIVE);
  }

  /**
   * An executable replaced or changed after the training: the JVM would refuse the archive (Java 17
   * silently) and start with no archive at all, so the launcher leaves it out, says so, and the JVM
   * maps the JDK's default archive instead (-Xshare:on in startFromElsewhere fails the start otherwise).
   */
  @Test
  void archiveOlderThanTheExecutableIsIgnoredWithOneLineOnStderr() throws Exception {
    Path exe = install();
    trainAbsolute(exe);
    Path archive = Path.of(exe + ".jsa");
    // as after an upgrade: the executable's mtime later than the archive's
    Files.setLastModifiedTime(archive, FileTime.fromMillis(Files.getLastModifiedTime(exe).toMillis() - 60_000));
    Started s = startFromElsewhere(exe);
    assertThat(s.stderr()).doesNotContain(FROM_ARCHIVE).contains("java.lang.Object source: shared objects file");
    assertThat(s.stderr().lines().filter(l -> l.contains("ignoring class-data archive")).toList())
        .singleElement().asString().contains(archive.toString()).contains("older than the plugin executable")
        .contains("--train-cds");
    trainAbsolute(exe);
    assertThat(startFromElsewhere(exe).stderr()).contains(FROM_ARCHIVE).doesNotContain("ignoring class-data archive");
  }

  /**
   * An archive trained on one Java and started on another (an upgrade since the training, or
   * KEYLIME_ATTESTOR_JAVA/JAVA_HOME not the training's): the JVM refuses it, Java 17 without a word,
   * and maps no archive at all; the plugin says so, naming the archive and the command that remakes it.
   */
  @Test
  void anArchiveOfAnotherJavaIsReportedByThePlugin() throws Exception {
    String trainedWith = Path.of(System.getProperty("java.home"), "bin", "java").toRealPath().toString();
    String other = jvms().filter(j -> !j.equals(trainedWith)).findFirst().orElse(null);
    org.junit.jupiter.api.Assumptions.assumeTrue(other != null, "needs a second JVM under /usr/lib/jvm");
    Path exe = install();
    ProcessBuilder train = new ProcessBuilder(exe.toString(), "--train-cds").directory(exe.getParent().toFile())
        .redirectOutput(ProcessBuilder.Redirect.INHERIT).redirectError(ProcessBuilder.Redirect.INHERIT);
    train.environment().put("KEYLIME_ATTESTOR_JAVA", trainedWith);
    Process t = train.start();
    try {
      assertThat(t.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(t.exitValue()).isZero();
    } finally {
      t.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    String warning = "did not use the plugin's class-data archive";
    Started same = startFromElsewhere(exe, Map.of("KEYLIME_ATTESTOR_JAVA", trainedWith));
    assertThat(same.stderr()).contains(FROM_ARCHIVE).doesNotContain(warning);
    // without -Xshare:on, which would make the refusal fatal, as under SPIRE
    Started elsewhere = startFromElsewhere(exe, Map.of("KEYLIME_ATTESTOR_JAVA", other,
        "KEYLIME_ATTESTOR_JAVA_OPTS", "-Xlog:class+load=info:stderr"));
    assertThat(elsewhere.stderr()).doesNotContain(FROM_ARCHIVE);
    assertThat(elsewhere.stderr().lines().filter(l -> l.contains(warning)).toList()).singleElement().asString()
        .startsWith("{").contains(exe + ".jsa").contains(exe + " --train-cds");
  }

  /** An executable whose mtime is ahead of the clock (unpacked from elsewhere) still trains an archive it uses. */
  @Test
  void executableFromTheFutureTrainsAnArchiveItUses() throws Exception {
    Path exe = install();
    Files.setLastModifiedTime(exe, FileTime.fromMillis(System.currentTimeMillis() + 2 * 3600_000));
    trainAbsolute(exe);
    assertThat(startFromElsewhere(exe).stderr()).contains(FROM_ARCHIVE).doesNotContain("ignoring class-data archive");
  }

  @Test
  void archiveOwnedByAnotherUserIsIgnoredWithOneLineOnStderr() throws Exception {
    Path exe = install();
    trainAbsolute(exe);
    Path archive = Path.of(exe + ".jsa");
    // 65534 is "nobody": neither root nor the owner of the copy this test made. chown needs root.
    List<String> chown = List.of("chown", "65534", archive.toString());
    boolean root = "0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes(),
        StandardCharsets.US_ASCII).trim());
    List<String> cmd = root ? chown : Stream.concat(Stream.of("sudo", "-n"), chown.stream()).toList();
    assertThat(run(work, cmd)).as("%s (this test needs root or password-less sudo)", cmd).isZero();

    Started s = startFromElsewhere(exe);
    assertThat(s.stderr()).doesNotContain(FROM_ARCHIVE);
    assertThat(s.stderr().lines().filter(l -> l.contains("ignoring class-data archive")).toList())
        .singleElement().asString().contains(archive.toString()).contains("owned by uid 65534");
  }
  /**
   * Owning the executable is not enough: whoever owns it (but does not run it) could put in an archive
   * of another jar of the same path, size and mtime, which the JVM would take for this one.
   */
  @Test
  void anArchiveOwnedByThePluginsOwnerIsIgnoredWhenAnotherUserRunsThePlugin() throws Exception {
    Path exe = install();
    trainAbsolute(exe);
    Path archive = Path.of(exe + ".jsa");
    boolean root = "0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes(),
        StandardCharsets.US_ASCII).trim());
    for (Path f : List.of(exe, archive)) {
      List<String> chown = List.of("chown", "65534", f.toString());
      List<String> cmd = root ? chown : Stream.concat(Stream.of("sudo", "-n"), chown.stream()).toList();
      assertThat(run(work, cmd)).as("%s (this test needs root or password-less sudo)", cmd).isZero();
    }
    Started s = startFromElsewhere(exe);
    assertThat(s.stderr()).doesNotContain(FROM_ARCHIVE);
    assertThat(s.stderr().lines().filter(l -> l.contains("ignoring class-data archive")).toList())
        .singleElement().asString().contains("owned by uid 65534, neither root nor the user running the plugin");
  }

  /** Java splits a class path at ':': from such a directory the JVM would read classes from elsewhere. */
  @Test
  void aPathWithAColonIsRefusedOutLoud() throws Exception {
    Path dir = Files.createDirectories(work.resolve("a:b"));
    Path exe = dir.resolve("keylime-attestor-agent");
    Files.copy(PluginExecutableIT.executable("keylime-attestor-agent"), exe, StandardCopyOption.COPY_ATTRIBUTES);
    Path err = work.resolve("colon.err");
    Process p = new ProcessBuilder(exe.toString()).directory(work.toFile()).redirectError(err.toFile())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    try {
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isEqualTo(1);
      assertThat(Files.readString(err)).contains("cannot run from " + exe).contains("without ':'");
    } finally {
      p.destroyForcibly();
    }
  }
}
