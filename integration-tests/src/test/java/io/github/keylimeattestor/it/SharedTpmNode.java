package io.github.keylimeattestor.it;

import static org.awaitility.Awaitility.await;

import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.keylime.emulator.KeylimeStack;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.core.ConditionTimeoutException;

/**
 * One node of {@link SharedTpmIT}: a swtpm of the shared Keylime stack, optionally behind its own
 * tpm2-abrmd on a private D-Bus session bus, and the Keylime agent emulator holding its AK
 * resident on it ({@code --resident-ak}, as rust-keylime does). Every process it starts is
 * recorded under the stack's pids directory, so {@link KeylimeStack#close()} stops them.
 */
final class SharedTpmNode {
  private static final Pattern AK_HANDLE = Pattern.compile("AK loaded as transient object (0x[0-9a-f]{8})");

  final String name;
  final KeylimeStack stack;
  final boolean viaAbrmd;
  final String uuid = UUID.randomUUID().toString();
  final int emulatorPort;
  final java.nio.file.Path keylimeDir;
  final Map<String, String> env = new LinkedHashMap<>();
  private final String swtpmName;
  int swtpmPort;
  volatile Process emulator;
  /** Why this node could not be set up (reported by the tests that use it), or null. */
  volatile Throwable setupFailure;

  SharedTpmNode(String name, KeylimeStack stack, String swtpmName, boolean viaAbrmd) throws IOException {
    this.name = name;
    this.stack = stack;
    this.swtpmName = swtpmName;
    this.viaAbrmd = viaAbrmd;
    this.keylimeDir = stack.dir.resolve("agent-" + name);
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      emulatorPort = s.getLocalPort();
    }
  }

  /** The TPM as the emulator names it. */
  String emulatorTcti() {
    return viaAbrmd ? "tabrmd:bus_type=session" : "swtpm:host=127.0.0.1,port=" + swtpmPort;
  }

  /** The TPM lines of the agent plugin's plugin_data. */
  String pluginTpmSettings() {
    return "tcti = \"" + emulatorTcti() + "\"";
  }

  void startTpm() throws IOException, InterruptedException {
    swtpmPort = Integer.parseInt(stack.run(Duration.ofSeconds(60), "swtpm.sh", stack.dir.toString(), swtpmName,
        "start").strip().lines().reduce((a, b) -> b).orElseThrow());
    if (viaAbrmd) {
      startAbrmd();
    }
  }

  void stopSwtpm() throws IOException, InterruptedException {
    stack.run(Duration.ofSeconds(30), "swtpm.sh", stack.dir.toString(), swtpmName, "stop");
  }

  void startAbrmd() throws IOException, InterruptedException {
    String out = stack.run(Duration.ofSeconds(60), "abrmd.sh", stack.dir.toString(), "abrmd-" + name, "start",
        Integer.toString(swtpmPort));
    for (String line : out.lines().toList()) {
      if (line.startsWith("DBUS_SESSION_BUS_ADDRESS=")) {
        env.put("DBUS_SESSION_BUS_ADDRESS", line.substring(line.indexOf('=') + 1));
      }
    }
    if (!env.containsKey("DBUS_SESSION_BUS_ADDRESS")) {
      throw new IOException("abrmd.sh printed no bus address:\n" + out);
    }
  }

  void stopAbrmd() throws IOException, InterruptedException {
    stack.run(Duration.ofSeconds(30), "abrmd.sh", stack.dir.toString(), "abrmd-" + name, "stop-abrmd");
  }

  /** Starts the emulator (or a new one: the old one is killed first) and waits until it serves. */
  void startEmulator() throws Exception {
    if (emulator != null) {
      KeylimeStack.kill(emulator);
    }
    int before = count("serving " + uuid);
    emulator = stack.startAgent(uuid, emulatorPort, keylimeDir, emulatorTcti(), env, "--resident-ak");
    String failure = "emulator of node " + name + " did not start:\n";
    try {
      await("the emulator of node " + name + " serving").atMost(Duration.ofSeconds(90)).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(100)).pollInSameThread().until(() -> {
            if (count("serving " + uuid) > before) {
              return true;
            }
            if (!emulator.isAlive()) {
              throw new AssertionError(failure + stack.agentLog(uuid));
            }
            return false;
          });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(failure + stack.agentLog(uuid), e);
    }
  }

  private int count(String text) {
    String log = stack.agentLog(uuid);
    int n = 0;
    for (int i = log.indexOf(text); i >= 0; i = log.indexOf(text, i + 1)) {
      n++;
    }
    return n;
  }

  /** The handles the emulator's resident AKs got, oldest first (one per start). */
  List<Integer> residentAkHandles() {
    List<Integer> out = new ArrayList<>();
    Matcher m = AK_HANDLE.matcher(stack.agentLog(uuid));
    while (m.find()) {
      out.add(Integer.parseUnsignedInt(m.group(1).substring(2), 16));
    }
    return out;
  }

  void enroll() throws Exception {
    try {
      // an IOException: enroll.sh failed, e.g. the tenant could not reach the emulator yet
      await("enrolment of node " + name).atMost(Duration.ofSeconds(90)).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofSeconds(1)).pollInSameThread().ignoreExceptionsInstanceOf(IOException.class)
          .until(() -> {
            stack.run(Duration.ofMinutes(2), "enroll.sh", stack.dir.toString(), uuid, "127.0.0.1",
                Integer.toString(emulatorPort));
            return true;
          });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError("enrolment of node " + name + " failed; emulator log:\n" + stack.agentLog(uuid), e);
    }
  }

  void awaitVerifierPass(Duration timeout) throws Exception {
    TlsSettings tls = TlsSettings.builder().caBundle(stack.path("KEYLIME_CA_CERT"))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null).build();
    VerifierClient v = new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), tls));
    try {
      // a KeylimeException: not enrolled yet
      await("the verifier's PASS for node " + name).atMost(timeout).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(500)).pollInSameThread().ignoreExceptionsInstanceOf(KeylimeException.class)
          .until(() -> v.getAgent(uuid), s -> s.attestationStatus().orElse(null) == AttestationStatus.PASS);
    } catch (ConditionTimeoutException e) {
      // the message holds the last status
      throw new AssertionError("node " + name + ": " + e.getMessage() + "\n" + stack.agentLog(uuid), e);
    }
  }

  /**
   * Transient object handles in the swtpm, read by tpm2-tools (an independent check of what the
   * emulator and our plugin leave loaded). Only for a node without abrmd: abrmd holds the swtpm.
   */
  List<Integer> transientHandlesByTpm2Tools() throws IOException, InterruptedException {
    if (viaAbrmd) {
      throw new IllegalStateException("tpm2-abrmd holds the swtpm of node " + name);
    }
    Process p = new ProcessBuilder("tpm2_getcap", "-T", "swtpm:host=127.0.0.1,port=" + swtpmPort, "handles-transient")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("tpm2_getcap failed: " + out);
    }
    List<Integer> handles = new ArrayList<>();
    Matcher m = Pattern.compile("0x(8[0-9a-fA-F]{7})").matcher(out);
    while (m.find()) {
      handles.add(Integer.parseUnsignedInt(m.group(1), 16));
    }
    return handles;
  }

  @Override
  public String toString() {
    return name + (viaAbrmd ? " (tpm2-abrmd)" : " (swtpm " + swtpmPort + ")");
  }
}
