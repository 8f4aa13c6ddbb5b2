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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.core.ConditionTimeoutException;

/**
 * The setup pieces the Keylime integration tests share: our plugins' {@code NodeAttestor "keylime"} blocks for
 * spire-server and spire-agent, the server plugin's connection to a {@link KeylimeStack}, and starting, enrolling
 * and waiting for an emulated Keylime agent. Each test passes only what is its own.
 */
final class KeylimeFixtures {
  /** Stops what a test class started (agents, then SPIRE, then Keylime) and prints its duration. */
  static void stopAll(String testClass, long startedNanos, java.util.List<SpireProcess> agents, SpireTestbed bed,
      KeylimeStack stack) throws Exception {
    try {
      for (SpireProcess a : agents) {
        a.close();
      }
      if (bed != null) {
        bed.close();
      }
    } finally {
      if (stack != null) {
        stack.close();
      }
      System.err.printf("%s took %.1f s%n", testClass, (System.nanoTime() - startedNanos) / 1e9);
    }
  }

  private KeylimeFixtures() {}

  static Path serverExe() {
    return SpireBinaries.projectFile("plugin-server/target/keylime-attestor-server");
  }

  static Path agentExe() {
    return SpireBinaries.projectFile("plugin-agent/target/keylime-attestor-agent");
  }

  /** The SHA-256 the build wrote next to {@code exe}, for plugin_checksum. */
  static String sha(Path exe) throws IOException {
    return Files.readString(Path.of(exe + ".sha256")).split("\\s+")[0];
  }

  /** spire-server's {@code NodeAttestor "keylime"} block running our server plugin with {@code pluginData}. */
  static String serverNodeAttestor(String pluginData) throws IOException {
    return nodeAttestor(serverExe(), pluginData);
  }

  /** spire-agent's {@code NodeAttestor "keylime"} block running our agent plugin with {@code pluginData}. */
  static String agentNodeAttestor(String pluginData) throws IOException {
    return nodeAttestor(agentExe(), pluginData);
  }

  private static String nodeAttestor(Path exe, String pluginData) throws IOException {
    return """
          NodeAttestor "keylime" {
            plugin_cmd = "%s"
            plugin_checksum = "%s"
            plugin_data {
        %s
            }
          }
        """.formatted(exe, sha(exe), pluginData);
  }

  /** The server plugin_data lines that reach the stack's registrar and verifier with its SPIRE client cert. */
  static String stackConnection(KeylimeStack stack) {
    return connection(stack, stack.get("REGISTRAR_URL"), stack.get("VERIFIER_URL"));
  }

  /** plugin_data lines for these registrar and verifier URLs, with the stack's CA and SPIRE client cert. */
  static String connection(KeylimeStack stack, String registrarUrl, String verifierUrl) {
    return """
              registrar_urls = ["%s"]
              verifier_urls = ["%s"]
              tls {
                ca_bundle = "%s"
                client_cert = "%s"
                client_key = "%s"
              }
        """.formatted(registrarUrl, verifierUrl, stack.get("KEYLIME_CA_CERT"), stack.get("SPIRE_CLIENT_CERT"),
        stack.get("SPIRE_CLIENT_KEY"));
  }


  /** An emulated Keylime agent: its port on 127.0.0.1, its Keylime directory and its process. */
  record Emulator(int port, Path dir, Process process) {}

  /**
   * Starts an emulated Keylime agent {@code uuid} on a free port in {@code <stack>/agent-<uuid>}, waits for its
   * agent_data.json and enrols it with the verifier.
   */
  static Emulator startEnrolledEmulator(KeylimeStack stack, String uuid) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Path dir = stack.dir.resolve("agent-" + uuid);
    Process process = stack.startAgent(uuid, port, dir);
    KeylimeEndToEndIT.awaitFile(dir.resolve("agent_data.json"), Duration.ofSeconds(60));
    enrol(stack, uuid, port);
    return new Emulator(port, dir, process);
  }

  /** The tenant's tpm_policy for push-mode nodes: PCR 23 at its reset value (push verifiers ask for a quote only for listed PCRs). */
  static final String PUSH_TPM_POLICY = "{\"23\": [\"0x" + "0".repeat(64) + "\"]}";

  /**
   * Starts an emulated push-mode Keylime agent {@code uuid} in {@code <stack>/agent-<uuid>} against a stack started
   * with {@code STACK_VERIFIER_MODE=push}, waits until it has registered, and enrols it with {@code tenant -c add
   * --push-model} and {@link #PUSH_TPM_POLICY}. Its port is 0: it serves nothing.
   */
  static Emulator startEnrolledPushEmulator(KeylimeStack stack, String uuid) throws Exception {
    Path dir = stack.dir.resolve("agent-" + uuid);
    Process process = stack.startPushAgent(uuid, dir);
    awaitLog(stack, uuid, "pushing evidence for " + uuid, Duration.ofSeconds(60));
    untilEnrolled(stack, uuid, "tenant.sh", stack.dir.toString(), "-c", "add", "-u", uuid, "--push-model",
        "--tpm_policy", PUSH_TPM_POLICY);
    return new Emulator(0, dir, process);
  }

  /** Waits for {@code text} in the emulator log of {@code uuid}. */
  static void awaitLog(KeylimeStack stack, String uuid, String text, Duration timeout) {
    try {
      await("'" + text + "' in the emulator log of " + uuid).atMost(timeout).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(200)).pollInSameThread().until(() -> stack.agentLog(uuid).contains(text));
    } catch (ConditionTimeoutException e) {
      throw new AssertionError("'" + text + "' not in the emulator log:\n" + stack.agentLog(uuid), e);
    }
  }


  /** Waits up to 60 s for the verifier to report PASS for {@code uuid}; else fails with {@code failure} + status. */
  static void awaitPass(KeylimeStack stack, String uuid, String failure) throws Exception {
    TlsSettings tls = TlsSettings.builder().caBundle(stack.path("KEYLIME_CA_CERT"))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null).build();
    VerifierClient v = new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), tls));
    try {
      // a KeylimeException: not enrolled yet
      await("the verifier's PASS for " + uuid).atMost(Duration.ofSeconds(60)).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(500)).pollInSameThread().ignoreExceptionsInstanceOf(KeylimeException.class)
          .until(() -> v.getAgent(uuid), s -> s.attestationStatus().orElse(null) == AttestationStatus.PASS);
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(failure + e.getMessage(), e); // the message holds the last status
    }
  }

  /** Enrols the emulated agent {@code uuid} listening on {@code port} with enroll.sh (see {@link #untilEnrolled}). */
  static void enrol(KeylimeStack stack, String uuid, int port) throws Exception {
    untilEnrolled(stack, uuid, "enroll.sh", stack.dir.toString(), uuid, "127.0.0.1", Integer.toString(port));
  }

  /**
   * Runs the stack's {@code script} until it succeeds, for up to 90 s: the emulator may not answer the tenant at
   * once. On giving up, fails with the emulator's log for {@code uuid}.
   */
  static void untilEnrolled(KeylimeStack stack, String uuid, String script, String... args) throws Exception {
    try {
      // an IOException: the script failed, e.g. the tenant could not reach the emulator yet
      await("enrolment of " + uuid + " by " + script).atMost(Duration.ofSeconds(90)).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofSeconds(1)).pollInSameThread().ignoreExceptionsInstanceOf(IOException.class)
          .until(() -> {
            stack.run(Duration.ofMinutes(2), script, args);
            return true;
          });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError("enrolment failed; emulator log:\n" + stack.agentLog(uuid), e);
    }
  }
}
