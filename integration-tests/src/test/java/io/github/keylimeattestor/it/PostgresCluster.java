package io.github.keylimeattestor.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A private PostgreSQL cluster (Debian's postgresql package) for SPIRE's SQL datastore: initdb into a fresh temp
 * directory, {@code pg_ctl start} on 127.0.0.1 and a free port, no Unix socket outside that directory, trust
 * authentication for the one local user {@code spire}. Never the system service. PostgreSQL refuses to run as root,
 * so as root it runs as the package's {@code postgres} user (runuser). {@link #close} stops it (fast shutdown) and
 * deletes the directory; a shutdown hook does the same if the JVM ends first.
 */
final class PostgresCluster implements AutoCloseable {
  final Path dir;
  final int port;
  private final Path bin;
  private final boolean asPostgresUser;
  private final Thread hook = new Thread(this::stopQuietly, "postgres-stop");

  private PostgresCluster(Path dir, int port, Path bin, boolean asPostgresUser) {
    this.dir = dir;
    this.port = port;
    this.bin = bin;
    this.asPostgresUser = asPostgresUser;
  }

  static PostgresCluster start() throws IOException, InterruptedException {
    Path bin = findBin();
    boolean root = ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue() == 0;
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "fleet-pg");
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    PostgresCluster pg = new PostgresCluster(dir, port, bin, root);
    if (root) {
      pg.run(List.of("chown", "postgres:postgres", dir.toString()), false);
    }
    Runtime.getRuntime().addShutdownHook(pg.hook);
    try {
      pg.run(List.of(bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-U", "spire",
          "-A", "trust", "-E", "UTF8", "--no-sync"), true);
      // fsync off: a test database, thrown away afterwards; 200 connections: two servers' pools
      pg.run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-w", "-t", "60",
          "-l", dir.resolve("postgres.log").toString(), "-o",
          "-h 127.0.0.1 -p " + port + " -k " + dir + " -c fsync=off -c synchronous_commit=off -c max_connections=200",
          "start"), true);
      pg.run(List.of(bin.resolve("createdb").toString(), "-h", "127.0.0.1", "-p", Integer.toString(port), "-U", "spire",
          "spire"), true);
    } catch (IOException | RuntimeException e) {
      pg.close();
      throw e;
    }
    return pg;
  }

  /** SPIRE's DataStore "sql" connection_string for this cluster. */
  String connectionString() {
    return "dbname=spire user=spire host=127.0.0.1 port=" + port + " sslmode=disable";
  }

  String log() {
    try {
      return Files.readString(dir.resolve("postgres.log"));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  private static Path findBin() throws IOException {
    Path base = Path.of("/usr/lib/postgresql");
    if (Files.isDirectory(base)) {
      try (Stream<Path> s = Files.list(base)) {
        var found = s.map(p -> p.resolve("bin")).filter(p -> Files.isExecutable(p.resolve("initdb")))
            .max(Comparator.comparing(p -> p.getParent().getFileName().toString()));
        if (found.isPresent()) {
          return found.get();
        }
      }
    }
    throw new IOException("no PostgreSQL server in /usr/lib/postgresql/*/bin: apt-get install postgresql "
        + "(scripts/install-prereqs.sh does)");
  }

  private void run(List<String> command, boolean asServerUser) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    if (asServerUser && asPostgresUser) {
      cmd.addAll(List.of("runuser", "-u", "postgres", "--"));
    }
    cmd.addAll(command);
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(90, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException(String.join(" ", cmd) + " timed out:\n" + out);
    }
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ":\n" + out + "\n" + log());
    }
  }

  @Override
  public void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs
    }
    stopQuietly();
  }

  private void stopQuietly() {
    try {
      if (Files.exists(dir.resolve("data/postmaster.pid"))) {
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "fast", "-w",
            "-t", "60", "stop"), true);
      }
    } catch (IOException | InterruptedException e) {
      System.err.println("stopping PostgreSQL in " + dir + " failed: " + e.getMessage());
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort
    }
  }
}
