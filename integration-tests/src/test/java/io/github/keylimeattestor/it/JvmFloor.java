package io.github.keylimeattestor.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * What a JVM costs before any class of ours loads: the floor under issue 12's RSS goals. Starts the
 * plugins' Java with the launcher's own flags on a class that only sleeps, and reads its RSS once it
 * is idle, with the JDK's default class-data archive and without any. Not a test: the soak prints it
 * beside its figures, so a reader sees how much of a plugin's RSS is the JVM's alone.
 */
final class JvmFloor {

  private static final String TUNING_LINE = "tuning=${KEYLIME_ATTESTOR_TUNING-";

  private JvmFloor() {}

  /** One line: the idle JVM's RSS with and without the default archive; never throws. */
  static String describe(Path launcher, Path workDir) {
    try {
      List<String> flags = launcherFlags(launcher);
      Path classes = compileIdleClass(workDir.resolve("jvm-floor"));
      double shared = idleRssMb(flags, classes, List.of());
      double unshared = idleRssMb(flags, classes, List.of("-Xshare:off"));
      return String.format("a JVM that only sleeps, started as the launcher starts a plugin (its flags, %s): RSS %.1f MB"
          + " with the JDK's default class-data archive, %.1f MB with none (-Xshare:off)", java(), shared, unshared);
    } catch (IOException | RuntimeException e) {
      return "not measured: " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "not measured: interrupted";
    }
  }

  /** The launcher's default JVM flags, from its {@code tuning=${KEYLIME_ATTESTOR_TUNING-...}} line. */
  static List<String> launcherFlags(Path launcher) throws IOException {
    for (String line : Files.readAllLines(launcher, StandardCharsets.UTF_8)) {
      if (line.startsWith(TUNING_LINE) && line.endsWith("}")) {
        String flags = line.substring(TUNING_LINE.length(), line.length() - 1).trim();
        return Arrays.asList(flags.split("\\s+"));
      }
    }
    throw new IOException("no " + TUNING_LINE + "...} line in " + launcher);
  }

  private static Path compileIdleClass(Path dir) throws IOException {
    Files.createDirectories(dir);
    Path source = dir.resolve("Idle.java");
    Files.writeString(source, "public class Idle { public static void main(String[] a) throws Exception {"
        + " Thread.sleep(60_000); } }\n");
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    if (javac == null || javac.run(null, null, null, "-d", dir.toString(), source.toString()) != 0) {
      throw new IOException("cannot compile " + source);
    }
    return dir;
  }

  private static double idleRssMb(List<String> flags, Path classes, List<String> more)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(java());
    cmd.addAll(flags);
    cmd.addAll(more);
    cmd.addAll(List.of("-cp", classes.toString(), "Idle"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2"); // as the launcher exports it
    Process p = pb.start();
    try {
      Thread.sleep(2_500); // started and idle: nothing is loaded after main's sleep begins
      if (!p.isAlive()) {
        throw new IOException(String.join(" ", cmd) + " exited with " + p.exitValue());
      }
      return ReattestationSoak.sample(p.pid()).rssKb() / 1024.0;
    } finally {
      p.destroy();
      if (!p.waitFor(5, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
      }
    }
  }

  /** The java the launcher runs: KEYLIME_ATTESTOR_JAVA, else $JAVA_HOME/bin/java, else java on PATH. */
  private static String java() {
    String explicit = System.getenv("KEYLIME_ATTESTOR_JAVA");
    if (explicit != null && !explicit.isEmpty()) {
      return explicit;
    }
    String home = System.getenv("JAVA_HOME");
    return home != null && !home.isEmpty() ? home + "/bin/java" : "java";
  }
}
