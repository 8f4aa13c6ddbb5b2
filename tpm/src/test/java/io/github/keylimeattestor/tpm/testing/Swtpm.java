package io.github.keylimeattestor.tpm.testing;

import static org.awaitility.Awaitility.await;

import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.core.ConditionTimeoutException;

/**
 * A real swtpm for tests: fresh state from {@code swtpm_setup --create-ek-cert}, listening on free
 * loopback ports, always stopped by {@link #close}. Fails (never skips) when swtpm is missing.
 */
public final class Swtpm implements AutoCloseable {
  private final Path dir;
  private final Process process;
  public final int port;
  public final int ctrlPort;

  private Swtpm(Path dir, Process process, int port, int ctrlPort) {
    this.dir = dir;
    this.process = process;
    this.port = port;
    this.ctrlPort = ctrlPort;
  }

  public static Swtpm start() throws IOException, InterruptedException {
    return start("sha256");
  }

  /** A swtpm whose allocated PCR banks are {@code activePcrBanks} (swtpm_setup syntax, e.g. "sha1,sha256"). */
  public static Swtpm start(String activePcrBanks) throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("swtpm-test");
    Path state = Files.createDirectory(dir.resolve("state"));
    // a private local CA, so that tests need neither root nor /var/lib/swtpm-localca
    Path ca = Files.createDirectory(dir.resolve("localca"));
    Files.writeString(dir.resolve("swtpm-localca.conf"), "statedir = " + ca + "\n"
        + "signingkey = " + ca.resolve("signkey.pem") + "\n"
        + "issuercert = " + ca.resolve("issuercert.pem") + "\n"
        + "certserial = " + ca.resolve("certserial") + "\n");
    Files.writeString(dir.resolve("swtpm-localca.options"),
        "--platform-manufacturer Test\n--platform-version 2.1\n--platform-model Test\n");
    Files.writeString(dir.resolve("swtpm_setup.conf"), "create_certs_tool = swtpm_localca\n"
        + "create_certs_tool_config = " + dir.resolve("swtpm-localca.conf") + "\n"
        + "create_certs_tool_options = " + dir.resolve("swtpm-localca.options") + "\n"
        + "active_pcr_banks = " + activePcrBanks + "\n");
    run(dir, List.of("swtpm_setup", "--tpm2", "--config", dir.resolve("swtpm_setup.conf").toString(),
        "--tpmstate", state.toString(), "--create-ek-cert", "--create-platform-cert", "--lock-nvram",
        "--overwrite"));
    IOException last = null;
    for (int attempt = 0; attempt < 5; attempt++) {
      // libtss2's swtpm TCTI expects the control port right after the data port
      int port = freePortPair();
      int ctrl = port + 1;
      Process p = new ProcessBuilder("swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + state,
          "--server", "type=tcp,port=" + port + ",bindaddr=127.0.0.1",
          "--ctrl", "type=tcp,port=" + ctrl + ",bindaddr=127.0.0.1",
          "--flags", "not-need-init,startup-clear")
          .redirectErrorStream(true).redirectOutput(dir.resolve("swtpm.log").toFile()).start();
      Swtpm s = new Swtpm(dir, p, port, ctrl);
      try {
        s.awaitPort();
        return s;
      } catch (IOException e) {
        last = e;
        s.close();
      }
    }
    throw new IOException("swtpm did not start", last);
  }

  private void awaitPort() throws IOException {
    try {
      await("swtpm listening on 127.0.0.1:" + port).atMost(Duration.ofSeconds(10)).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(20)).pollInSameThread().until(() -> {
            if (!process.isAlive()) {
              throw new IOException("swtpm exited: " + Files.readString(dir.resolve("swtpm.log")));
            }
            try (Socket s = new Socket()) {
              s.connect(new InetSocketAddress("127.0.0.1", port), 200);
              return true;
            } catch (IOException e) {
              return false;
            }
          });
    } catch (ConditionTimeoutException e) {
      throw new IOException("swtpm did not listen on " + port, e);
    }
  }

  /**
   * Two adjacent free ports drawn from 20000-32767, below the kernel's ephemeral range (32768+), as
   * integration-tests/keylime/lib.sh does: thousands of short swtpm connections in TIME_WAIT fill
   * the ephemeral range, and outgoing connections cannot take these ports meanwhile.
   */
  @SuppressWarnings("try") // the two sockets are opened only to find the ports free, and closed unused
  private static int freePortPair() throws IOException {
    java.util.Random random = new java.util.Random();
    for (int i = 0; i < 500; i++) {
      int p = 20000 + random.nextInt(32767 - 20000 - 1);
      try (ServerSocket a = new ServerSocket(p, 1, java.net.InetAddress.getLoopbackAddress());
          ServerSocket b = new ServerSocket(p + 1, 1, java.net.InetAddress.getLoopbackAddress())) {
        return p;
      } catch (IOException taken) {
        // try another pair
      }
    }
    throw new IOException("no two adjacent free ports on 127.0.0.1 in 20000-32767");
  }


  public String tcti() {
    return "swtpm:host=127.0.0.1,port=" + port;
  }

  public Tpm tpm() {
    return new Tpm(new SwtpmTransport("127.0.0.1", port));
  }

  public Path dir() {
    return dir;
  }

  /** The private CA certificate that issued this TPM's EK certificate (PEM). */
  public Path issuerCertificate() {
    return dir.resolve("localca").resolve("issuercert.pem");
  }

  /** Runs a tpm2-tools command against this swtpm; fails the test on a non-zero exit. */
  public String tpm2(String... args) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(args).directory(dir.toFile());
    pb.environment().put("TPM2TOOLS_TCTI", tcti());
    return run(pb, args);
  }

  /** Like {@link #tpm2} but returns the exit code and output without failing. */
  public Result tpm2Try(String... args) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(args).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().put("TPM2TOOLS_TCTI", tcti());
    Process p = startOrExplain(pb, args[0]);
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Result(p.waitFor(), out);
  }

  public record Result(int exitCode, String output) {}

  private static String run(Path dir, List<String> cmd) throws IOException, InterruptedException {
    return run(new ProcessBuilder(cmd).directory(dir.toFile()), cmd.toArray(new String[0]));
  }

  private static String run(ProcessBuilder pb, String[] args) throws IOException, InterruptedException {
    pb.redirectErrorStream(true);
    Process p = startOrExplain(pb, args[0]);
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int rc = p.waitFor();
    if (rc != 0) {
      throw new AssertionError(String.join(" ", args) + " exited " + rc + ":\n" + out);
    }
    return out;
  }

  private static Process startOrExplain(ProcessBuilder pb, String tool) throws IOException {
    try {
      return pb.start();
    } catch (IOException e) {
      throw new AssertionError(tool + " is not installed; these tests need Debian's swtpm, "
          + "swtpm-tools and tpm2-tools (apt-get install swtpm swtpm-tools tpm2-tools)", e);
    }
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
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
