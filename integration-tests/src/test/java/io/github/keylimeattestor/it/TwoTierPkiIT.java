package io.github.keylimeattestor.it;

import static io.github.keylimeattestor.it.SpireProcess.msg;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.keylime.emulator.KeylimeStack;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Issue 18's homelab without nginx: a real Keylime 7.14.3 verifier and registrar serving DNS-only
 * certificates from a two-tier PKI (root -> intermediate -> verifier.keylime.test /
 * registrar.keylime.test, chain sent), trusting the root for client certificates; real SPIRE with
 * our plugins; swtpm and the pull-agent emulator. One Keylime stack; spire-server is restarted
 * with each plugin configuration, the registrar with other TLS files where a case needs Keylime to
 * serve or trust something else (restart-registrar.sh). keylime-client's TwoTierTlsTest covers the
 * same messages, and a few more, against an OpenSSL server set up like Keylime's.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TwoTierPkiIT {
  TwoTierPki pki;
  KeylimeStack stack;
  SpireTestbed bed;
  String uuid;
  Path emulatorDir;
  Instant started;

  @BeforeAll
  void startKeylimeWithTheTwoTierPki() throws Exception {
    started = Instant.now();
    String base = System.getProperty("keylime.workdir", "target/keylime-stack");
    pki = new TwoTierPki(Path.of(base + "-two-tier-pki").toAbsolutePath());
    stack = KeylimeStack.start(Path.of(base + "-two-tier"), Map.of(
        "STACK_TLS_EXTRA_CA", pki.rootPem.toString(),
        "STACK_VERIFIER_SERVER_CERT", pki.verifierCert.toString(),
        "STACK_VERIFIER_SERVER_KEY", pki.verifierKey.toString(),
        "STACK_REGISTRAR_SERVER_CERT", pki.registrarCert.toString(),
        "STACK_REGISTRAR_SERVER_KEY", pki.registrarKey.toString()));
    uuid = UUID.randomUUID().toString();
    KeylimeFixtures.Emulator node = KeylimeFixtures.startEnrolledEmulator(stack, uuid);
    emulatorDir = node.dir();
    awaitPass();
    bed = new SpireTestbed();
    System.err.printf("two-tier Keylime stack ready in %d s%n", Duration.between(started, Instant.now()).toSeconds());
  }

  @AfterAll
  void stopEverything() throws Exception {
    try {
      if (bed != null) {
        bed.close();
      }
    } finally {
      if (stack != null) {
        stack.close();
      }
      System.err.printf("TwoTierPkiIT took %d s%n", Duration.between(started, Instant.now()).toSeconds());
    }
  }

  private void awaitPass() throws Exception {
    // keylime-client itself, dialling the IP with the verifier's name: the verifier serves our PKI
    TlsSettings tls = TlsSettings.builder().caBundle(pki.rootPem)
        .clientCertificate(pki.clientChain, pki.clientKey, null).serverName(TwoTierPki.VERIFIER_NAME).build();
    VerifierClient v = new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), tls));
    // the last status or KeylimeException is in the timeout's message or cause
    await("the verifier's PASS for " + uuid).atMost(Duration.ofSeconds(60)).pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(500)).pollInSameThread().ignoreExceptionsInstanceOf(KeylimeException.class)
        .until(() -> v.getAgent(uuid), st -> st.attestationStatus().orElse(null) == AttestationStatus.PASS);
  }

  String port(String urlKey) {
    return Integer.toString(URI.create(stack.get(urlKey)).getPort());
  }

  /** Restarts spire-server with {@code pluginData} (and {@code env} for the plugin) and starts a fresh agent. */
  void run(String caseName, String pluginData, Map<String, String> env) throws Exception {
    if (bed.agent != null) {
      bed.agent.close();
    }
    if (bed.server != null) {
      bed.server.close();
    }
    bed.serverEnv.clear();
    bed.serverEnv.putAll(env);
    bed.startServer("", KeylimeFixtures.serverNodeAttestor(pluginData + """
              ek_ca_bundle = "%s"
              require_ek_cert = true
              attestation_policy {
                max_attestation_age = "60s"
              }
              challenge_timeout = "30s"
        """.formatted(stack.get("EK_CA_BUNDLE"))));
    bed.awaitServerHealthy(Duration.ofSeconds(60));
    bed.startAgent(KeylimeFixtures.agentNodeAttestor("""
              swtpm_address = "127.0.0.1:%s"
              agent_data_path = "%s"
              keylime_agent_uuid = "%s"
              app_key_path = "%s"
        """.formatted(stack.get("SWTPM_PORT"), emulatorDir.resolve("agent_data.json"), uuid,
        bed.dir.resolve("app-key.json"))), "agent-" + caseName);
  }

  static Predicate<JsonNode> ours(String message) {
    return e -> message.equals(e.path("msg").asText()) && "keylime".equals(e.path("plugin_name").asText());
  }

  void assertAttests() throws Exception {
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    assertThat(bed.server.entries(ours("node attested"))).isNotEmpty();
    assertThat(bed.server.entries(ours("attestation refused"))).isEmpty();
  }

  /** The first refusal our server plugin logs; spire-agent must see the same code and retry. */
  JsonNode awaitRefusal() throws Exception {
    JsonNode refused = bed.server.awaitEntries(ours("attestation refused"), 1, Duration.ofSeconds(90)).get(0);
    System.err.println("refused: " + refused.path("code").asText() + ": " + refused.path("error").asText());
    bed.agent.awaitEntries(e -> e.path("msg").asText().equals("Failed to retrieve attestation result")
        && e.toString().contains("FailedPrecondition"), 1, Duration.ofSeconds(60));
    return refused;
  }

  String tls(Path caBundle, Path cert, Path key, String extra) {
    return """
              tls {
                ca_bundle = "%s"
                client_cert = "%s"
                client_key = "%s"
        %s
              }
        """.formatted(caBundle, cert, key, extra);
  }

  @Test
  @Order(1)
  void urlsByIpWithAServerNamePerEndpointRootOnlyBundleAndTheClientChainInClientCert() throws Exception {
    run("by-ip", """
              registrar_urls = ["https://127.0.0.1:%s"]
              verifier_urls = ["https://127.0.0.1:%s"]
        %s
              registrar_tls {
                server_name = "%s"
              }
              verifier_tls {
                server_name = "%s"
              }
        """.formatted(port("REGISTRAR_URL"), port("VERIFIER_URL"),
        tls(pki.rootPem, pki.clientChain, pki.clientKey, ""), TwoTierPki.REGISTRAR_NAME, TwoTierPki.VERIFIER_NAME),
        Map.of());
    assertAttests();
  }

  @Test
  @Order(2)
  void urlsByNameThroughAHostsFileChainBundleAndTheChainInsideTheKeyFile() throws Exception {
    // The plugin JVM resolves the names from its own hosts file (no /etc/hosts edit needed).
    Path hosts = Files.writeString(bed.dir.resolve("hosts"), "127.0.0.1 localhost " + TwoTierPki.VERIFIER_NAME + " "
        + TwoTierPki.REGISTRAR_NAME + "\n");
    run("by-name", """
              registrar_urls = ["https://%s:%s"]
              verifier_urls = ["https://%s:%s"]
        %s
        """.formatted(TwoTierPki.REGISTRAR_NAME, port("REGISTRAR_URL"), TwoTierPki.VERIFIER_NAME, port("VERIFIER_URL"),
        tls(pki.rootAndIntermediatePem, pki.clientLeaf, pki.clientKeyWithChain, "")),
        Map.of("KEYLIME_ATTESTOR_JAVA_OPTS", "-Djdk.net.hosts.file=" + hosts));
    assertAttests();
  }

  @Test
  @Order(3)
  void oneSharedServerNameForDifferentlyNamedEndpointsNamesThePerEndpointKey() throws Exception {
    run("shared-name", """
              registrar_urls = ["https://127.0.0.1:%s"]
              verifier_urls = ["https://127.0.0.1:%s"]
        %s
        """.formatted(port("REGISTRAR_URL"), port("VERIFIER_URL"), tls(pki.rootPem, pki.clientChain, pki.clientKey,
        "        server_name = \"" + TwoTierPki.VERIFIER_NAME + "\"")), Map.of());
    JsonNode refused = awaitRefusal();
    assertThat(refused.path("code").asText()).isEqualTo("FAILED_PRECONDITION");
    assertThat(refused.path("error").asText())
        .contains("registrar")
        .contains("does not carry the configured tls.server_name '" + TwoTierPki.VERIFIER_NAME + "'")
        .contains("it names [DNS:" + TwoTierPki.REGISTRAR_NAME + "]")
        .contains("set registrar_tls.server_name to one of its DNS names")
        .doesNotContain("tls_server_name");
  }

  @Test
  @Order(4)
  void aLeafOnlyClientCertificateIsToldToAddTheIntermediateToClientCert() throws Exception {
    run("leaf-only", """
              registrar_urls = ["https://127.0.0.1:%s"]
              verifier_urls = ["https://127.0.0.1:%s"]
        %s
              registrar_tls {
                server_name = "%s"
              }
              verifier_tls {
                server_name = "%s"
              }
        """.formatted(port("REGISTRAR_URL"), port("VERIFIER_URL"),
        tls(pki.rootPem, pki.clientLeaf, pki.clientKey, ""), TwoTierPki.REGISTRAR_NAME, TwoTierPki.VERIFIER_NAME),
        Map.of());
    JsonNode refused = awaitRefusal();
    assertThat(refused.path("code").asText()).isEqualTo("FAILED_PRECONDITION");
    assertThat(refused.path("error").asText())
        .contains("refused by the server")
        .contains("1) put the intermediate CA certificate 'O=Homelab,CN=Homelab Intermediate CA' after the client "
            + "certificate in tls.client_cert");
  }

  String byIpWithNames(Path caBundle, Path cert, Path key) {
    return """
              registrar_urls = ["https://127.0.0.1:%s"]
              verifier_urls = ["https://127.0.0.1:%s"]
        %s
              registrar_tls {
                server_name = "%s"
              }
              verifier_tls {
                server_name = "%s"
              }
        """.formatted(port("REGISTRAR_URL"), port("VERIFIER_URL"), tls(caBundle, cert, key, ""),
        TwoTierPki.REGISTRAR_NAME, TwoTierPki.VERIFIER_NAME);
  }

  void restartRegistrar(String... args) throws Exception {
    String[] all = new String[args.length + 1];
    all[0] = stack.dir.toString();
    System.arraycopy(args, 0, all, 1, args.length);
    stack.run(Duration.ofMinutes(2), "restart-registrar.sh", all);
  }

  @Test
  @Order(5)
  void aClientCertificateWithServerAuthOnlyIsToldToFixItsEku() throws Exception {
    run("eku", byIpWithNames(pki.rootPem, pki.serverAuthOnlyClientCert, pki.serverAuthOnlyClientKey), Map.of());
    JsonNode refused = awaitRefusal();
    assertThat(refused.path("code").asText()).isEqualTo("FAILED_PRECONDITION");
    assertThat(refused.path("error").asText())
        .contains("has extendedKeyUsage [serverAuth] without clientAuth")
        .contains("re-issue it with extendedKeyUsage = clientAuth")
        .doesNotContain("trusted_client_ca");
  }

  @Test
  @Order(6)
  void keylimeTrustingOnlyTheIntermediateIsToldToAddTheRoot() throws Exception {
    restartRegistrar("--extra-ca", pki.intermediatePem.toString());
    run("intermediate-only", byIpWithNames(pki.rootPem, pki.clientChain, pki.clientKey), Map.of());
    JsonNode refused = awaitRefusal();
    assertThat(refused.path("code").asText()).isEqualTo("FAILED_PRECONDITION");
    assertThat(refused.path("error").asText())
        .contains("refused by the server")
        .contains("1) add the root CA 'O=Homelab,CN=Homelab Root CA' to the server's trusted_client_ca")
        .contains("not use an intermediate alone as a trust anchor");
  }

  @Test
  @Order(7)
  void aRegistrarSendingOnlyItsLeafNamesTheMissingIntermediate() throws Exception {
    restartRegistrar("--extra-ca", pki.rootPem.toString(), "--server-cert", pki.registrarLeafOnly.toString(),
        "--server-key", pki.registrarKey.toString());
    run("leaf-server", byIpWithNames(pki.rootPem, pki.clientChain, pki.clientKey), Map.of());
    JsonNode refused = awaitRefusal();
    assertThat(refused.path("code").asText()).isEqualTo("FAILED_PRECONDITION");
    assertThat(refused.path("error").asText())
        .contains("the server sent only its own certificate, issued by 'O=Homelab,CN=Homelab Intermediate CA'")
        .contains("the intermediate is missing, add it to tls.ca_bundle");
  }

  @Test
  @Order(8)
  void anExpiredRegistrarCertificateLeadsWithItsDates() throws Exception {
    restartRegistrar("--server-cert", pki.expiredRegistrarCert.toString(), "--server-key",
        pki.expiredRegistrarKey.toString());
    run("expired-server", byIpWithNames(pki.rootPem, pki.clientChain, pki.clientKey), Map.of());
    JsonNode refused = awaitRefusal();
    assertThat(refused.path("code").asText()).isEqualTo("FAILED_PRECONDITION");
    assertThat(refused.path("error").asText())
        .contains("refused by this client: the server certificate 'O=Homelab,CN=" + TwoTierPki.REGISTRAR_NAME
            + "' is EXPIRED on ")
        .doesNotContain("not trusted");
  }
}
