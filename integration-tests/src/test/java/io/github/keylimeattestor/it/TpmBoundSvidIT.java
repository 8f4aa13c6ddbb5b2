package io.github.keylimeattestor.it;

import static io.github.keylimeattestor.it.SpireProcess.msg;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.keylimeattestor.keylime.emulator.KeylimeStack;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GetPublicKeysRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.HashAlgorithm;
import io.github.keylimeattestor.proto.spire.agent.keymanager.KeyManagerGrpc;
import io.github.keylimeattestor.proto.spire.agent.keymanager.PublicKey;
import io.github.keylimeattestor.proto.spire.agent.keymanager.SignDataRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.SignDataResponse;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * TPM-bound agent identity with real peers: swtpm, a real Keylime 7.14.3 verifier and registrar
 * (the Keylime agent is the project's emulator), real SPIRE v1.15.3. spire-agent's KeyManager is
 * our "keylime_tpm"; spire-server requires TPM-bound agent SVIDs (NodeAttestor
 * require_tpm_bound_svid + CredentialComposer "keylime_tpm_bound_svid"). tpm2-tools reads the SVID
 * key's public area independently. Tests run in order on one setup.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TpmBoundSvidIT {
  static final int REATTESTATIONS = 10;
  final long started = System.nanoTime();
  KeylimeStack stack;
  SpireTestbed bed;
  String uuid;
  Path emulatorDir;
  Path keyDir;
  Path bindings;
  String agentId;
  List<Double> tpmRotations = List.of();

  @BeforeAll
  void startEverything() throws Exception {
    stack = KeylimeStack.start();
    uuid = UUID.randomUUID().toString();
    KeylimeFixtures.Emulator node = KeylimeFixtures.startEnrolledEmulator(stack, uuid);
    emulatorDir = node.dir();
    KeylimeFixtures.awaitPass(stack, uuid, "verifier never said PASS; last: ");
    bed = new SpireTestbed();
    keyDir = bed.dir.resolve("data/agent/tpm-keys");
    bindings = bed.dir.resolve("svid-bindings");
    startServer(true);
    bed.startAgent(nodeAttestor(true), "agent", tpmKeyManager());
    agentId = "spiffe://example.org/spire/agent/keylime/" + uuid;
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
      System.err.printf("TpmBoundSvidIT took %.1f s%n", (System.nanoTime() - started) / 1e9);
    }
  }

  // ------------------------------------------------------------------ setup helpers

  void startServer(boolean requireBinding) throws Exception {
    bed.startServer("  agent_ttl = \"6s\"", serverBlocks(requireBinding));
    bed.awaitServerHealthy(Duration.ofSeconds(60));
  }

  static String sha(Path exe) throws Exception {
    return Files.readString(Path.of(exe + ".sha256")).split("\\s+")[0];
  }

  String serverBlocks(boolean requireBinding) throws Exception {
    Path exe = SpireBinaries.projectFile("plugin-server/target/keylime-attestor-server");
    String composer = !requireBinding ? "" : """
          CredentialComposer "keylime_tpm_bound_svid" {
            plugin_cmd = "%s"
            plugin_checksum = "%s"
            plugin_data {
              svid_binding_directory = "%s"
            }
          }
        """.formatted(exe, sha(exe), bindings);
    return KeylimeFixtures.serverNodeAttestor(KeylimeFixtures.stackConnection(stack) + """
              attestation_policy {
                max_attestation_age = "60s"
              }
              pcr_policy {
                pcrs = [16]
              }
              challenge_timeout = "30s"
              require_tpm_bound_svid = %s
              svid_binding_directory = "%s"
        """.formatted(requireBinding, bindings)) + composer;
  }

  String tcti() {
    return "swtpm:host=127.0.0.1,port=" + stack.get("SWTPM_PORT");
  }

  /** The agent NodeAttestor; {@code certifyTpmKeys}: with svid_key_directory = the TPM KeyManager's directory. */
  String nodeAttestor(boolean certifyTpmKeys) throws Exception {
    return KeylimeFixtures.agentNodeAttestor("""
              tcti = "%s"
              agent_data_path = "%s"
              keylime_agent_uuid = "%s"
              app_key_path = "%s"
              %s
        """.formatted(tcti(), emulatorDir.resolve("agent_data.json"), uuid,
        bed.dir.resolve("app-key.blob"), certifyTpmKeys ? "svid_key_directory = \"" + keyDir + "\"" : ""));
  }

  String tpmKeyManager() throws Exception {
    Path exe = SpireBinaries.projectFile("plugin-agent/target/keylime-attestor-agent");
    return """
          KeyManager "keylime_tpm" {
            plugin_cmd = "%s"
            plugin_checksum = "%s"
            plugin_data {
              directory = "%s"
              tcti = "%s"
            }
          }
        """.formatted(exe, sha(exe), keyDir, tcti());
  }

  static Predicate<JsonNode> ours(String message) {
    return e -> message.equals(e.path("msg").asText());
  }

  /** A log entry any of whose fields mentions {@code text}. */
  static Predicate<JsonNode> mentions(String text) {
    return e -> {
      for (JsonNode v : e) {
        if (v.asText().contains(text)) {
          return true;
        }
      }
      return false;
    };
  }

  /** The agent SVID spire-agent stored (agent-data.json, leaf first). */
  X509Certificate storedAgentSvid(String agentName) throws Exception {
    JsonNode data = SpireProcess.JSON.readTree(bed.dir.resolve("data").resolve(agentName).resolve("agent-data.json").toFile());
    byte[] der = Base64.getDecoder().decode(data.path("svid").get(0).asText());
    return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
  }

  static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  // ------------------------------------------------------------------ tests

  @Test
  @Order(1)
  void attestsAndReattestsTenTimesAcrossABKeyRotations() throws Exception {
    bed.agent.awaitEntries(msg("Node attestation was successful"), 1, Duration.ofSeconds(90));
    bed.agent.awaitEntries(msg("Successfully reattested node"), REATTESTATIONS, Duration.ofMinutes(3));
    Set<String> ids = new TreeSet<>();
    bed.agent.entries(ours("generated SVID key in the TPM")).forEach(e -> ids.add(e.path("key_id").asText()));
    assertThat(ids).containsExactly("agent-svid-A", "agent-svid-B");
    assertThat(bed.agent.entries(ours("generated SVID key in the TPM"))).hasSizeGreaterThanOrEqualTo(REATTESTATIONS + 1);
    assertThat(bed.server.entries(ours("agent X.509-SVID key is TPM-bound")))
        .hasSizeGreaterThanOrEqualTo(REATTESTATIONS + 1);
    assertThat(bed.server.entries(ours("refused an agent X.509-SVID for a key the TPM attestation did not certify")))
        .isEmpty();
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(bindings)))
        .isEqualTo("rwx------");
    tpmRotations = rotationMillis(bed.agent.logEntries());
  }

  @Test
  @Order(2)
  void aWorkloadGetsItsSvidUntouchedByTheComposer() throws Exception {
    bed.awaitWorkloadSvidUnderNode(uuid);
    // the composer is asked about agent SVIDs only
    assertThat(bed.server.entries(mentions("spiffe://example.org/workload")))
        .noneMatch(e -> e.path("msg").asText().contains("TPM-bound"));
  }

  @Test
  @Order(3)
  void afterAPluginRestartTheAgentSvidKeyIsATpmKeyTheAkCertified() throws Exception {
    bed.agent.stop(Duration.ofSeconds(15));
    X509Certificate svid = storedAgentSvid("agent");
    byte[] spki = svid.getPublicKey().getEncoded();
    assertThat(svid.getSubjectAlternativeNames().toString()).contains(agentId);

    // tpm2-tools, not our code: load each blob under an SRK made from the same template, read its public key
    Set<String> tpmKeys = new TreeSet<>();
    for (String id : List.of("agent-svid-A", "agent-svid-B")) {
      tpmKeys.add(sha256(Tpm2Tools.publicKeyOfBlob(tcti(), keyDir.resolve(id + ".tpmkey"), bed.dir.resolve("t2-" + id))));
    }
    String spkiHash = sha256(spki);
    assertThat(tpmKeys).contains(spkiHash);
    assertThat(bed.server.entries(ours("SVID key certified by the AK")))
        .as("the AK certified the SVID's key in an attestation for this agent")
        .anyMatch(e -> e.path("spki_sha256").asText().equals(spkiHash) && e.path("spiffe_id").asText().equals(agentId));

    // spire-agent restarted: its KeyManager plugin reloads the keys from the blobs and rotation goes on
    int before = bed.agent.entries(msg("Successfully reattested node")).size();
    bed.startAgent(nodeAttestor(true), "agent", tpmKeyManager());
    bed.agent.awaitEntries(ours("configured"), 1, Duration.ofSeconds(60));
    assertThat(bed.agent.entries(ours("configured"))).anyMatch(e -> e.path("keys").asText().contains("agent-svid-"));
    bed.agent.awaitEntries(msg("Successfully reattested node"), 3, Duration.ofSeconds(90));
    assertThat(bed.server.entries(ours("refused an agent X.509-SVID for a key the TPM attestation did not certify")))
        .isEmpty();
  }

  @Test
  @Order(4)
  void anAgentWithSpiresDiskKeyManagerGetsNoSvidAndIsToldWhichKeyManagerToUse() throws Exception {
    bed.agent.stop(Duration.ofSeconds(15));
    bed.startAgent(nodeAttestor(false), "agent-disk");
    bed.agent.awaitEntries(mentions("configure the agent's KeyManager \"keylime_tpm\""), 1, Duration.ofSeconds(90));
    assertThat(bed.agent.entries(msg("Node attestation was successful"))).isEmpty();
    assertThat(bed.server.entries(mentions("require_tpm_bound_svid is on but this attestation certifies no agent SVID key")))
        .isNotEmpty();
  }

  @Test
  @Order(5)
  void aRelayOfGenuineTpmEvidenceWithACsrForASoftwareKeyIsRefused() throws Exception {
    bed.agent.stop(Duration.ofSeconds(15));
    // genuine evidence: the NodeAttestor certifies the node's TPM keys; but spire-agent's CSR is for a disk key
    bed.startAgent(nodeAttestor(true), "agent-relay");
    bed.agent.awaitEntries(mentions("is not a TPM-resident key that the node's AK certified"), 1, Duration.ofSeconds(90));
    assertThat(bed.agent.entries(msg("Node attestation was successful"))).isEmpty();
    assertThat(bed.server.entries(ours("refused an agent X.509-SVID for a key the TPM attestation did not certify")))
        .anyMatch(e -> e.path("spiffe_id").asText().equals(agentId));
    bed.agent.stop(Duration.ofSeconds(15));
  }

  @Test
  @Order(6)
  void figuresSvidRotationWithTheTpmKeyManagerBesideDisk() throws Exception {
    List<Double> tpm = tpmRotations;
    // baseline: the same server without the binding requirement, spire-agent with SPIRE's disk KeyManager
    bed.agent.stop(Duration.ofSeconds(15));
    bed.server.stop(Duration.ofSeconds(15));
    startServer(false);
    bed.startAgent(nodeAttestor(false), "agent-disk-baseline");
    bed.agent.awaitEntries(msg("Successfully reattested node"), 6, Duration.ofMinutes(2));
    List<Double> disk = rotationMillis(bed.agent.logEntries());
    System.err.printf("agent SVID rotation (key + CSR + re-attestation), KeyManager keylime_tpm: %s%n",
        LatencyReport.summary(tpm));
    System.err.printf("agent SVID rotation (key + CSR + re-attestation), KeyManager disk:        %s%n",
        LatencyReport.summary(disk));
    assertThat(tpm).hasSizeGreaterThanOrEqualTo(REATTESTATIONS);
    assertThat(disk).isNotEmpty();
  }

  @Test
  @Order(7)
  void theKeyManagersKeysSurviveATpmRestart() throws Exception {
    bed.agent.stop(Duration.ofSeconds(15));
    Path exe = SpireBinaries.projectFile("plugin-agent/target/keylime-attestor-agent");
    String hcl = "directory = \"" + keyDir + "\"\ntcti = \"" + tcti() + "\"\n";
    List<PublicKey> before;
    try (PluginHost km = PluginHost.start(exe, bed.dir.resolve("km-before.log"), "KeyManager")) {
      km.configure("example.org", hcl);
      before = KeyManagerGrpc.newBlockingStub(km.channel).getPublicKeys(GetPublicKeysRequest.getDefaultInstance())
          .getPublicKeysList();
      assertThat(before).extracting(PublicKey::getId).containsExactly("agent-svid-A", "agent-svid-B");
      powerCycleSwtpm();
      signsWithEach(km, before); // the running plugin, after the reset
    }
    try (PluginHost km = PluginHost.start(exe, bed.dir.resolve("km-after.log"), "KeyManager")) {
      km.configure("example.org", hcl); // a fresh plugin process loads the blobs into the reset TPM
      assertThat(KeyManagerGrpc.newBlockingStub(km.channel).getPublicKeys(GetPublicKeysRequest.getDefaultInstance())
          .getPublicKeysList()).isEqualTo(before);
      signsWithEach(km, before);
      assertThat(km.logText()).doesNotContain("no longer loads");
    }
  }

  static void signsWithEach(PluginHost km, List<PublicKey> keys) throws Exception {
    byte[] data = "signed after the TPM reset".getBytes(StandardCharsets.US_ASCII);
    for (PublicKey k : keys) {
      SignDataResponse r = KeyManagerGrpc.newBlockingStub(km.channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .signData(SignDataRequest.newBuilder().setKeyId(k.getId())
              .setData(ByteString.copyFrom(MessageDigest.getInstance("SHA-256").digest(data)))
              .setHashAlgorithm(HashAlgorithm.SHA256).build());
      assertThat(r.getKeyFingerprint()).isEqualTo(k.getFingerprint());
      java.security.Signature v = java.security.Signature.getInstance("SHA256withECDSA");
      v.initVerify(java.security.KeyFactory.getInstance("EC")
          .generatePublic(new java.security.spec.X509EncodedKeySpec(k.getPkixData().toByteArray())));
      v.update(data);
      assertThat(v.verify(r.getSignature().toByteArray())).as("signature by %s", k.getId()).isTrue();
    }
  }

  /** spire-agent's own "Reattesting node" to "Successfully reattested node". */
  static List<Double> rotationMillis(List<JsonNode> log) {
    List<Double> out = new ArrayList<>();
    OffsetDateTime start = null;
    for (JsonNode e : log) {
      String m = e.path("msg").asText();
      if (m.equals("Reattesting node")) {
        start = OffsetDateTime.parse(e.path("time").asText());
      } else if (m.equals("Successfully reattested node") && start != null) {
        out.add(Duration.between(start, OffsetDateTime.parse(e.path("time").asText())).toNanos() / 1e6);
        start = null;
      }
    }
    return out;
  }

  /** swtpm's CMD_INIT on its control channel (a TPM reset, as at power-on), then TPM2_Startup(CLEAR). */
  void powerCycleSwtpm() throws Exception {
    try (Socket s = new Socket("127.0.0.1", Integer.parseInt(stack.get("SWTPM_CTRL_PORT")))) {
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      out.writeInt(0x02);
      out.writeInt(0);
      out.flush();
      assertThat(new DataInputStream(s.getInputStream()).readInt()).as("swtpm CMD_INIT").isZero();
    }
    Tpm2Tools.run(tcti(), bed.dir, "tpm2_startup", "-c");
  }
}
