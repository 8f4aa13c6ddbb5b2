package io.github.keylimeattestor.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the system's tar and sha256 as independent readers of what the build wrote. */
final class Tools {
  private Tools() {}

  static Path file(String property) {
    Path p = Path.of(System.getProperty(property));
    assertThat(p).as(property).isRegularFile();
    return p;
  }

  static Path projectFile(String relative) {
    return Path.of(System.getProperty("project.root")).resolve(relative);
  }

  /** Runs a command, returns stdout; fails the test on a non-zero exit. */
  static String run(Path dir, String... command) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
    Process p = pb.start();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("%s finished", List.of(command)).isTrue();
    assertThat(p.exitValue()).as("%s exit code; output:%n%s", List.of(command), out).isZero();
    return out;
  }

  /** One line of {@code tar -tv}: mode string and path. */
  record TarEntry(String mode, String path) {}

  static List<TarEntry> list(Path tar, String flags) throws IOException, InterruptedException {
    List<TarEntry> out = new ArrayList<>();
    for (String line : run(tar.getParent(), "tar", "--numeric-owner", flags, tar.toString()).split("\n")) {
      if (line.isBlank() || line.startsWith("tar: ")) {
        continue;
      }
      String[] f = line.trim().split("\\s+", 6);
      out.add(new TarEntry(f[0], f[5]));
    }
    return out;
  }

  static String sha256(Path file) throws IOException {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      try (InputStream in = Files.newInputStream(file)) {
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) {
          md.update(buf, 0, n);
        }
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
