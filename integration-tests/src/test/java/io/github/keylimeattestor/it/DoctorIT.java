package io.github.keylimeattestor.it;

import static org.assertj.core.api.Assertions.assertThat;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code keylime-attestor-server doctor} and {@code keylime-attestor-agent doctor}, the real
 * executables, against a real Keylime 7.14.3 verifier and registrar, swtpm and an enrolled
 * (emulated) Keylime agent; and the field failures of docs/troubleshooting.md as doctor shows them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DoctorIT {
  KeylimeStack stack;
  Process emulator;
  String uuid;
  int emulatorPort;
  Path emulatorDir;
  Path dir;

  record Result(int exit, String out) {}

  @BeforeAll
  void start() throws Exception {
    stack = KeylimeStack.start(Path.of(System.getProperty("keylime.workdir") + "-doctor"), Map.of());
    dir = Files.createDirectories(stack.dir.resolve("doctor"),
        java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
    uuid = UUID.randomUUID().toString();
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      emulatorPort = s.getLocalPort();
    }
    emulatorDir = stack.dir.resolve("agent-" + uuid);
    emulator = stack.startAgent(uuid, emulatorPort, emulatorDir);
    KeylimeEndToEndIT.awaitFile(emulatorDir.resolve("agent_data.json"), Duration.ofSeconds(60));
    KeylimeFixtures.enrol(stack, uuid, emulatorPort);
    TlsSettings tls = TlsSettings.builder().caBundle(stack.path("KEYLIME_CA_CERT"))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null).build();
    VerifierClient v = new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), tls));
    // a KeylimeException: not enrolled yet
    await("the verifier's PASS for " + uuid).atMost(Duration.ofSeconds(60)).pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(500)).pollInSameThread().ignoreExceptionsInstanceOf(KeylimeException.class)
        .until(() -> v.getAgent(uuid), s -> s.attestationStatus().orElse(null) == AttestationStatus.PASS);
  }

  @AfterAll
  void stop() throws Exception {
    if (stack != null) {
      stack.close();
    }
  }

  String serverPluginData(String registrarUrl, String verifierUrl, String extra) {
    return KeylimeFixtures.connection(stack, registrarUrl, verifierUrl) + extra + "\n";
  }


  /** A whole spire-server config, as an operator would pass it. */
  Path serverConf(String name, String pluginData) throws IOException {
    Path f = dir.resolve(name);
    Files.writeString(f, """
        server {
          trust_domain = "example.org"
          data_dir = "/var/lib/spire/server"
        }
        plugins {
          DataStore "sql" {
            plugin_data {
              database_type = "sqlite3"
            }
          }
          NodeAttestor "keylime" {
            plugin_cmd = "/opt/spire/plugins/keylime-attestor-server"
            plugin_data {
        %s
            }
          }
        }
        """.formatted(pluginData.indent(6)));
    return f;
  }

  static Result run(String executable, String... args) throws Exception {
    return run(Map.of(), executable, args);
  }

  static Result run(Map<String, String> env, String executable, String... args) throws Exception {
    String[] cmd = new String[args.length + 1];
    cmd[0] = SpireBinaries.projectFile(executable).toString();
    System.arraycopy(args, 0, cmd, 1, args.length);
    java.io.File errFile = java.io.File.createTempFile("doctor", ".stderr");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(errFile);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
    String err = java.nio.file.Files.readString(errFile.toPath());
    java.nio.file.Files.delete(errFile.toPath());
    System.out.println("---- " + String.join(" ", args) + " -> exit " + p.exitValue() + "\n" + out);
    // an operator's command: the plugin's debug lines (a TPM retry each, ...) stay out of it
    assertThat(err).as("doctor stderr").doesNotContain("\"@level\":\"debug\"").doesNotContain("\"@level\":\"trace\"");
    return new Result(p.exitValue(), out);
  }

  static Result serverDoctor(Path conf, String... more) throws Exception {
    String[] args = new String[3 + more.length];
    args[0] = "doctor";
    args[1] = "--config";
    args[2] = conf.toString();
    System.arraycopy(more, 0, args, 3, more.length);
    return run("plugin-server/target/keylime-attestor-server", args);
  }

  @Test
  void serverDoctorPassesForAnEnrolledNode() throws Exception {
    Path conf = serverConf("server.conf", serverPluginData(stack.get("REGISTRAR_URL"), stack.get("VERIFIER_URL"), ""));
    Result r = serverDoctor(conf, "--uuid", uuid);
    assertThat(r.out()).contains("ok   plugin_data: read from " + conf + ", NodeAttestor \"keylime\" plugin_data",
        "ok   registrar: [" + stack.get("REGISTRAR_URL") + "] reached over mTLS with our client certificate",
        "ok   verifier: [" + stack.get("VERIFIER_URL") + "] reached over mTLS with our client certificate",
        "ok   registration: agent " + uuid + " is registered and active",
        "ok   clock: the verifier's last quote",
        "ok   attestation status: the verifier's judgement of " + uuid + " passes this policy",
        "all checks passed");
    assertThat(r.exit()).isZero();
  }

  /** A SPIRE started with -expandEnv reads ${NAME} from its environment; the doctor does with --expand-env. */
  @Test
  void serverDoctorExpandsEnvironmentVariablesAsSpireDoes() throws Exception {
    String registrar = stack.get("REGISTRAR_URL");
    String data = serverPluginData(registrar, stack.get("VERIFIER_URL"), "");
    assertThat(data).contains("\"" + registrar + "\"");
    Path conf = serverConf("server-env.conf", data.replace("\"" + registrar + "\"", "\"${KEYLIME_REGISTRAR}\""));
    Map<String, String> env = Map.of("KEYLIME_REGISTRAR", registrar);
    Result expanded = run(env, "plugin-server/target/keylime-attestor-server", "doctor", "--config", conf.toString(),
        "--expand-env");
    assertThat(expanded.out()).contains("NodeAttestor \"keylime\" plugin_data, environment variables expanded",
        "ok   registrar: [" + registrar + "] reached over mTLS");
    assertThat(expanded.exit()).isZero();
    Result literal = run(env, "plugin-server/target/keylime-attestor-server", "doctor", "--config", conf.toString());
    assertThat(literal.out()).contains("FIX  plugin_data: ").contains("${KEYLIME_REGISTRAR}");
    assertThat(literal.exit()).isEqualTo(1);
  }

  @Test
  void serverDoctorNamesAnUnknownNode() throws Exception {
    String other = UUID.randomUUID().toString();
    Path conf = serverConf("server-unknown.conf",
        serverPluginData(stack.get("REGISTRAR_URL"), stack.get("VERIFIER_URL"), ""));
    Result r = serverDoctor(conf, "--uuid", other);
    assertThat(r.out()).contains("FIX  registration: registrar at " + stack.get("REGISTRAR_URL") + "/v2.6/agents/"
        + other + " answered HTTP 404: Agent with ID '" + other + "' not found",
        "FIX  attestation status: verifier at " + stack.get("VERIFIER_URL") + "/v2.6/agents/" + other
            + " answered HTTP 404: agent id not found", "2 thing(s) to fix");
    assertThat(r.exit()).isEqualTo(1);
  }

  @Test
  void aVerifierUrlThatPointsAtTheRegistrar() throws Exception {
    Path conf = serverConf("server-swapped.conf",
        serverPluginData(stack.get("REGISTRAR_URL"), stack.get("REGISTRAR_URL"), ""));
    Result r = serverDoctor(conf, "--uuid", uuid);
    assertThat(r.out()).contains("FIX  attestation status: verifier status of " + uuid + " from "
        + stack.get("REGISTRAR_URL") + "/v2.6/agents/" + uuid + ": field 'attestation_count' is missing and the answer "
        + "carries a registrar's 'aik_tpm': this URL is a Keylime registrar, not the verifier; check verifier_urls "
        + "(the verifier listens on port 8881 by default)");
    assertThat(r.exit()).isEqualTo(1);
  }

  @Test
  void httpsToThePlainHttpPort() throws Exception {
    Path conf = serverConf("server-plain.conf", serverPluginData(
        "https://127.0.0.1:" + stack.get("REGISTRAR_PORT"), stack.get("VERIFIER_URL"), "keylime_timeout = \"3s\""));
    Result r = serverDoctor(conf);
    assertThat(r.out()).contains("FIX  registrar: connecting to registrar at https://127.0.0.1:"
        + stack.get("REGISTRAR_PORT") + "/version timed out after 3s: the port accepts TCP connections but sent no "
        + "TLS handshake, so it most likely serves plain HTTP (e.g. the registrar's port, 8890 by default, instead of "
        + "its tls_port, 8891): use the HTTPS port; else the server is too busy to finish a handshake within "
        + "keylime_timeout");
    assertThat(r.exit()).isEqualTo(1);
  }

  @Test
  void agentDoctorPassesOnTheNode() throws Exception {
    Path conf = dir.resolve("agent.conf");
    Path appKey = dir.resolve("app-key.blob");
    Files.writeString(conf, """
        agent {
          trust_domain = "example.org"
        }
        plugins {
          NodeAttestor "keylime" {
            plugin_cmd = "/opt/spire/plugins/keylime-attestor-agent"
            plugin_data {
              swtpm_address = "127.0.0.1:%s"
              agent_data_path = "%s"
              keylime_agent_uuid = "%s"
              app_key_path = "%s"
            }
          }
        }
        """.formatted(stack.get("SWTPM_PORT"), emulatorDir.resolve("agent_data.json"), uuid, appKey));
    Result r = run("plugin-agent/target/keylime-attestor-agent", "doctor", "--config", conf.toString());
    assertThat(r.out()).contains("ok   TPM: reachable through swtpm at 127.0.0.1:" + stack.get("SWTPM_PORT"),
        "ok   TPM object slots: ",
        "ok   TPM firmware: " + Tpm2Tools.firmwareVersion("swtpm:host=127.0.0.1,port=" + stack.get("SWTPM_PORT"), dir)
            + " (the server's keylime:tpm:firmware selector",
        "ok   agent_data.json: " + emulatorDir.resolve("agent_data.json") + " readable",
        "ok   Keylime AK: loads under this TPM's EK and quotes", "ok   Keylime agent UUID: " + uuid,
        "note App Key: " + appKey + " does not exist yet", "all checks passed",
        // the parser's warnings, as Validate and Configure give them
        "note plugin_data: swtpm_address is an old name: write tcti = \"swtpm:host=127.0.0.1,port=" + stack.get("SWTPM_PORT"));
    assertThat(r.exit()).isZero();
    assertThat(appKey).doesNotExist();
  }

  /**
   * The TPM-bound SVID's two halves in one agent.conf: the NodeAttestor's svid_key_directory must be
   * KeyManager "keylime_tpm"'s directory, and a directory others may write is refused, as the plugin
   * refuses it.
   */
  @Test
  void agentDoctorChecksSvidKeyDirectoryAgainstTheKeyManagerBlock() throws Exception {
    Path keys = dir.resolve("svid-keys");
    String template = """
        agent {
          trust_domain = "example.org"
        }
        plugins {
          KeyManager "keylime_tpm" {
            plugin_cmd = "/opt/spire/plugins/keylime-attestor-agent"
            plugin_data {
              directory = "%s"
            }
          }
          NodeAttestor "keylime" {
            plugin_cmd = "/opt/spire/plugins/keylime-attestor-agent"
            plugin_data {
              tcti = "swtpm:host=127.0.0.1,port=%s"
              agent_data_path = "%s"
              keylime_agent_uuid = "%s"
              app_key_path = "%s"
              svid_key_directory = "%s"
            }
          }
        }
        """;
    String agentData = emulatorDir.resolve("agent_data.json").toString();
    Path appKey = dir.resolve("svid-test-app-key.blob");
    Path conf = dir.resolve("agent-svid.conf");
    Files.writeString(conf, template.formatted(dir.resolve("elsewhere"), stack.get("SWTPM_PORT"), agentData, uuid, appKey, keys));
    Result r = run("plugin-agent/target/keylime-attestor-agent", "doctor", "--config", conf.toString());
    assertThat(r.out()).contains("FIX  TPM-bound SVID: svid_key_directory " + keys + " is not the directory of KeyManager");
    assertThat(r.exit()).isEqualTo(1);

    Files.writeString(conf, template.formatted(keys, stack.get("SWTPM_PORT"), agentData, uuid, appKey, keys));
    r = run("plugin-agent/target/keylime-attestor-agent", "doctor", "--config", conf.toString());
    assertThat(r.out()).contains("note TPM-bound SVID: " + keys + " does not exist yet", "all checks passed");
    assertThat(r.exit()).isZero();

    Files.createDirectories(keys);
    Files.setPosixFilePermissions(keys, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
    r = run("plugin-agent/target/keylime-attestor-agent", "doctor", "--config", conf.toString());
    assertThat(r.out()).contains("FIX  TPM-bound SVID: svid_key_directory " + keys + ": ");
    assertThat(r.exit()).isEqualTo(1);
    Files.setPosixFilePermissions(keys, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    r = run("plugin-agent/target/keylime-attestor-agent", "doctor", "--config", conf.toString());
    assertThat(r.out()).contains("note TPM-bound SVID: " + keys + " holds no key yet");

    String withoutKeyManager = template.formatted(keys, stack.get("SWTPM_PORT"), agentData, uuid, appKey, keys)
        .replaceFirst("(?s)  KeyManager \"keylime_tpm\" \\{.*?\n  }\n", "");
    Files.writeString(conf, withoutKeyManager);
    r = run("plugin-agent/target/keylime-attestor-agent", "doctor", "--config", conf.toString());
    assertThat(r.out()).contains("note TPM-bound SVID: svid_key_directory is set, but " + conf
        + " has no KeyManager \"keylime_tpm\"");
  }

  /** What the plugin refuses, the doctor must not pass: its own file rules and UUID, not a looser copy. */
  @Test
  void agentDoctorRefusesWhatThePluginRefuses() throws Exception {
    Path agentData = Files.copy(emulatorDir.resolve("agent_data.json"), dir.resolve("writable-agent_data.json"));
    Files.setPosixFilePermissions(agentData, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-r--"));
    Path appKey = dir.resolve("readable-app-key.blob");
    Files.write(appKey, new byte[] {0, 1, 2});
    Files.setPosixFilePermissions(appKey, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    Path keylimeConf = Files.writeString(dir.resolve("keylime-agent.conf"),
        "[agent]\nuuid = \"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\"\n");
    Result r = agentDoctor("agent-refused.hcl", agentData, "keylime_agent_config = \"" + keylimeConf + "\"", appKey);
    assertThat(r.out()).contains("FIX  agent_data.json: agent_data_path " + agentData + " has mode rw-rw-r--",
        "FIX  Keylime agent UUID: ", "FIX  App Key: app_key_path " + appKey + " has mode rw-r--r--")
        .doesNotContain("tightens");
    assertThat(r.out().lines().filter(l -> l.startsWith("FIX  Keylime agent UUID:")).findFirst().orElseThrow())
        .containsIgnoringCase("default");
    assertThat(r.exit()).isEqualTo(1);

    // a symbolic link at app_key_path, and a directory others may write: the plugin refuses both
    Path link = Files.createSymbolicLink(dir.resolve("linked-app-key.blob"), appKey);
    Path open = Files.createDirectories(dir.resolve("group-writable"));
    Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwx---"));
    for (Path key : List.of(link, open.resolve("app-key.blob"))) {
      Result k = agentDoctor("agent-refused-key.hcl", emulatorDir.resolve("agent_data.json"),
          "keylime_agent_uuid = \"" + uuid + "\"", key);
      assertThat(k.out()).as(key.toString()).contains(key.equals(link)
          ? "FIX  App Key: app_key_path " + link + " is not a regular file"
          : "FIX  App Key: app_key_path's directory " + open + " has mode rwxrwx---");
      assertThat(k.exit()).isEqualTo(1);
    }
  }

  @Test
  void agentDoctorOnAnotherNodesAgentData() throws Exception {
    Path conf = dir.resolve("agent-missing.hcl");
    Result r = agentDoctor(conf.getFileName().toString(), dir.resolve("no-such-agent_data.json"),
        "keylime_agent_uuid = \"" + uuid + "\"", dir.resolve("k.blob"));
    assertThat(r.out()).contains("ok   plugin_data: read from " + conf + " (a plugin_data body)",
        "FIX  agent_data.json: " + dir.resolve("no-such-agent_data.json") + " does not exist");
    assertThat(r.exit()).isEqualTo(1);
  }

  /** The agent doctor on a plugin_data body (file {@code name} in dir): this swtpm, the UUID line given. */
  Result agentDoctor(String name, Path agentData, String uuidLine, Path appKey) throws Exception {
    Path conf = Files.writeString(dir.resolve(name), """
        swtpm_address = "127.0.0.1:%s"
        agent_data_path = "%s"
        %s
        app_key_path = "%s"
        """.formatted(stack.get("SWTPM_PORT"), agentData, uuidLine, appKey));
    return run("plugin-agent/target/keylime-attestor-agent", "doctor", "--config", conf.toString());
  }
}
