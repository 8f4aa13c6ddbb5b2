package io.github.keylimeattestor.tpm.testing;

import static org.awaitility.Awaitility.await;

import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.transport.TabrmdTransport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.core.ConditionTimeoutException;

/**
 * A real tpm2-abrmd for tests, on a private D-Bus bus (its own dbus-daemon with a session-type
 * config listening on a socket in a temp directory), in front of a TPM given as a TCTI string
 * (e.g. {@link Swtpm#tcti()}). {@link #close} stops both daemons, also when start fails half-way.
 * Fails (never skips) when dbus-daemon or tpm2-abrmd is missing.
 *
 * <p>In-JVM users: {@link #tpm()}, or {@link io.github.keylimeattestor.tpm.transport.Tcti} with
 * {@link #tcti()} ({@code tabrmd:bus_type=session}), which finds the bus through the system property
 * {@code DBUS_SESSION_BUS_ADDRESS} that {@link #start} sets (and {@link #close} clears). Child
 * processes (tpm2-tools, plugins, emulators): add {@link #environment()} to their environment.
 */
public final class Tabrmd implements AutoCloseable {
  public static final String ADDRESS_PROPERTY = "DBUS_SESSION_BUS_ADDRESS";
  private static final String ABRMD = Files.isExecutable(Path.of("/usr/sbin/tpm2-abrmd"))
      ? "/usr/sbin/tpm2-abrmd" : "tpm2-abrmd";

  private final Path dir;
  private final String tpmTcti;
  private final String address;
  private Process bus;
  private Process abrmd;
  private int starts;

  private Tabrmd(Path dir, String tpmTcti) {
    this.dir = dir;
    this.tpmTcti = tpmTcti;
    this.address = "unix:path=" + dir.resolve("bus");
  }

  /** Starts a private bus and tpm2-abrmd on it, talking to the TPM at {@code tpmTcti}. */
  public static Tabrmd start(String tpmTcti) throws IOException, InterruptedException {
    Tabrmd t = new Tabrmd(Files.createTempDirectory("tabrmd-test"), tpmTcti);
    try {
      t.startBus();
      t.startDaemon();
      System.setProperty(ADDRESS_PROPERTY, t.address);
      return t;
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      t.close();
      throw e;
    }
  }

  private void startBus() throws IOException, InterruptedException {
    Path conf = dir.resolve("bus.conf");
    Files.writeString(conf, "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        + " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        + "<busconfig>\n  <type>session</type>\n"
        + "  <listen>" + address + "</listen>\n"
        + "  <auth>EXTERNAL</auth>\n"
        + "  <policy context=\"default\">\n"
        + "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
        + "    <allow eavesdrop=\"true\"/>\n"
        + "    <allow own=\"*\"/>\n"
        + "  </policy>\n</busconfig>\n");
    bus = start(List.of("dbus-daemon", "--config-file=" + conf, "--nofork", "--nopidfile"), "dbus-daemon.log",
        "dbus");
    awaitFile(dir.resolve("bus"), bus, "dbus-daemon.log");
  }

  private void startDaemon() throws IOException, InterruptedException {
    String log = "tpm2-abrmd-" + (++starts) + ".log";
    abrmd = start(List.of(ABRMD, "--session", "--allow-root", "--logger=stdout", "--tcti=" + tpmTcti),
        log, "tpm2-abrmd");
    String what = "tpm2-abrmd taking " + TabrmdTransport.DEFAULT_BUS_NAME + " on " + address;
    try {
      await(what).atMost(Duration.ofSeconds(15)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(50))
          .pollInSameThread().until(() -> {
            if (TabrmdTransport.nameHasOwner(address, TabrmdTransport.DEFAULT_BUS_NAME, 1000)) {
              return true;
            }
            if (!abrmd.isAlive()) {
              throw new IOException("tpm2-abrmd exited before " + what + ": " + Files.readString(dir.resolve(log)));
            }
            return false;
          });
    } catch (ConditionTimeoutException e) {
      throw new IOException("tpm2-abrmd did not take " + TabrmdTransport.DEFAULT_BUS_NAME + " on " + address
          + ": " + Files.readString(dir.resolve(log)), e);
    }
  }

  private Process start(List<String> cmd, String log, String what) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(dir.resolve(log).toFile());
    pb.environment().put("DBUS_SESSION_BUS_ADDRESS", address);
    pb.environment().put("G_MESSAGES_DEBUG", "");
    try {
      return pb.start();
    } catch (IOException e) {
      throw new AssertionError(what + " is not installed; these tests need Debian's dbus and tpm2-abrmd "
          + "(apt-get install dbus tpm2-abrmd libtss2-tcti-tabrmd0)", e);
    }
  }

  private void awaitFile(Path file, Process p, String log) throws IOException {
    try {
      await("dbus-daemon listening on " + file).atMost(Duration.ofSeconds(10)).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(20)).pollInSameThread().until(() -> {
            if (Files.exists(file)) {
              return true;
            }
            if (!p.isAlive()) {
              throw new IOException("dbus-daemon exited: " + Files.readString(dir.resolve(log)));
            }
            return false;
          });
    } catch (ConditionTimeoutException e) {
      throw new IOException("dbus-daemon did not listen on " + file + ": " + Files.readString(dir.resolve(log)), e);
    }
  }

  /** The private bus's address, e.g. {@code unix:path=/tmp/tabrmd-test.../bus}. */
  public String address() {
    return address;
  }

  /** The TCTI string for clients of this daemon: {@code tabrmd:bus_type=session}. */
  public String tcti() {
    return "tabrmd:bus_type=session";
  }

  /** Environment for child processes: the private bus as their session bus. */
  public Map<String, String> environment() {
    return Map.of("DBUS_SESSION_BUS_ADDRESS", address);
  }

  /** A TPM client through this daemon (one abrmd connection until closed). */
  public Tpm tpm() throws IOException {
    return new Tpm(TabrmdTransport.connect(address, TabrmdTransport.DEFAULT_BUS_NAME, 30_000));
  }

  /** The daemon's process id (e.g. to check it is still the same daemon). */
  public long pid() {
    return abrmd.pid();
  }

  /** Stops tpm2-abrmd (its clients lose their connections and objects) and starts it again. */
  public void restart() throws IOException, InterruptedException {
    stop(abrmd);
    startDaemon();
  }

  /** Stops tpm2-abrmd only (the bus stays), e.g. to see clients fail while it is away. */
  public void stopDaemon() {
    stop(abrmd);
  }

  /** Starts tpm2-abrmd again after {@link #stopDaemon}. */
  public void startDaemonAgain() throws IOException, InterruptedException {
    startDaemon();
  }

  /** Runs a tpm2-tools command through this daemon; fails the test on a non-zero exit. */
  public String tpm2(String... args) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(args).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().putAll(environment());
    pb.environment().put("TPM2TOOLS_TCTI", tcti());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int rc = p.waitFor();
    if (rc != 0) {
      throw new AssertionError(String.join(" ", args) + " (through tpm2-abrmd) exited " + rc + ":\n" + out);
    }
    return out;
  }

  public Path dir() {
    return dir;
  }

  private static void stop(Process p) {
    if (p == null) {
      return;
    }
    p.destroy();
    try {
      if (!p.waitFor(5, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
    }
  }

  @Override
  public void close() {
    stop(abrmd);
    stop(bus);
    if (address.equals(System.getProperty(ADDRESS_PROPERTY))) {
      System.clearProperty(ADDRESS_PROPERTY);
    }
    try (Stream<Path> files = Files.walk(dir)) {
      List<Path> all = new ArrayList<>(files.sorted(Comparator.reverseOrder()).toList());
      for (Path f : all) {
        Files.deleteIfExists(f);
      }
    } catch (IOException ignored) {
      // best effort: a temp dir left behind is harmless
    }
  }
}
