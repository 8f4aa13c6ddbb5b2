package io.github.keylimeattestor.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.IntegrityPolicy;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sovereign.ClockHistory;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.github.keylimeattestor.sovereign.TpmKey;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's trust controls on the Attest stream, with real evidence from swtpm (the EK hash is
 * that of swtpm's EK) and the verifier's record chosen by the test: the allow-lists and the
 * integrity-policy rule read fields a real verifier sends (IntegrityPolicyTest reads them from a
 * recorded Keylime 7.14.3 answer; TrustControlsIT from a live one).
 */
class TrustControlsTest {
  static final ScheduledThreadPoolExecutor deadlines = KeylimeServerPlugin.deadlineScheduler();
  static String ekHash;

  @TempDir Path dir;

  @BeforeAll
  static void setUp() throws Exception {
    AttestStreamTest.setUp();
    ekHash = TpmKey.spkiSha256(AttestStreamTest.registered.ek().publicKey());
  }

  @AfterAll
  static void stop() {
    deadlines.shutdownNow();
    AttestStreamTest.swtpm.close();
  }

  static VerifierAgentStatus status(String metaData, IntegrityPolicy policy) {
    return new VerifierAgentStatus(AttestStreamTest.UUID, Optional.of(OperationalState.GET_QUOTE),
        Optional.of(AttestationStatus.PASS), Optional.of(Instant.now()), Optional.empty(), 5, Optional.of("sha256"),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.of("{\"mask\": \"0x0\"}"), Optional.ofNullable(metaData), policy);
  }

  static final IntegrityPolicy NONE = new IntegrityPolicy(true, false, false, false);
  static final IntegrityPolicy TPM = new IntegrityPolicy(true, true, false, false);

  AttestStreamTest.Recorder attest(String extraConfig, VerifierAgentStatus status) throws Exception {
    ServerConfig config = ServerConfig.parse("example.org", AttestStreamTest.pki.pluginData(extraConfig));
    AttestStreamTest.Answers keylime = new AttestStreamTest.Answers();
    keylime.status = status;
    return AttestStreamTest.attest(new AttestStream.Context(config, keylime, new EvidenceVerifier(new ClockHistory(10)),
        new SecureRandom(), Clock.systemUTC(), new AttestMetrics(Optional.empty()), deadlines), () -> {});
  }

  static java.util.List<String> selectors(AttestStreamTest.Recorder out) {
    assertThat(out.error).as("attestation error").isNull();
    return out.messages.get(1).getAgentAttributes().getSelectorValuesList();
  }

  @Test
  void anEkHashDirectoryAdmitsOnlyTheTpmsNamedInIt() throws Exception {
    Path hashes = Files.createDirectory(dir.resolve("hashes"));
    String conf = "ek_hash_allow_list = \"" + hashes + "\"\n";
    AttestStreamTest.Recorder out = attest(conf, status(null, NONE));
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.error.getDescription()).contains("ek_hash " + ekHash + ") is not in ek_hash_allow_list")
        .contains("touch " + hashes.resolve(ekHash));
    assertThat(out.messages).as("no challenge sent").isEmpty();

    Files.createFile(hashes.resolve(ekHash)); // no restart: read at every attestation
    assertThat(selectors(attest(conf, status(null, NONE)))).contains("ek_hash:" + ekHash);
  }

  @Test
  void anEkHashFileListsOneHashPerLineWithComments() throws Exception {
    Path file = dir.resolve("ek-hashes.txt");
    Files.writeString(file, "# rack 4\n" + "ab".repeat(32) + "\n");
    String conf = "ek_hash_allow_list = \"" + file + "\"\n";
    AttestStreamTest.Recorder out = attest(conf, status(null, NONE));
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.error.getDescription()).contains("add the line " + ekHash + " to that file");
    Files.writeString(file, "# rack 4\n" + "ab".repeat(32) + "\n  " + ekHash.toUpperCase() + "   # node-17\n");
    assertThat(selectors(attest(conf, status(null, NONE)))).contains("uuid:" + AttestStreamTest.UUID);
    // as `openssl pkey ... | sha256sum` prints it, which the README suggests
    Files.writeString(file, ekHash + "  -\n");
    assertThat(selectors(attest(conf, status(null, NONE)))).contains("uuid:" + AttestStreamTest.UUID);
    Files.writeString(file, "x" + ekHash + "  -\n" + ekHash.substring(1) + "\n");
    assertThat(attest(conf, status(null, NONE)).error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    // a comment in Latin-1 (no UTF-8) does not make the list unreadable for every node
    Files.write(file, ("# Gr\u00fcnwald rack\n" + ekHash + "\n").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    assertThat(selectors(attest(conf, status(null, NONE)))).contains("uuid:" + AttestStreamTest.UUID);
  }

  @Test
  void requiredMetaDataMustBeInTheVerifiersRecord() throws Exception {
    String conf = "required_meta_data {\n  site = \"dc1\"\n  role = \"worker\"\n}\n";
    AttestStreamTest.Recorder out = attest(conf, status("{\"site\": \"dc2\", \"role\": \"worker\"}", NONE));
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.error.getDescription()).contains("site = \"dc1\" (the verifier has \"dc2\")")
        .doesNotContain("role =");
    out = attest(conf, status("not json", NONE));
    assertThat(out.error.getDescription()).contains("(the verifier has none)");
    assertThat(selectors(attest(conf, status("{\"site\": \"dc1\", \"role\": \"worker\", \"x\": 1}", NONE))))
        .contains("uuid:" + AttestStreamTest.UUID);
  }

  @Test
  void theVerifiersPolicyIsASelectorAndRequireIntegrityPolicyRefusesNone() throws Exception {
    assertThat(selectors(attest("", status(null, NONE)))).contains("policy:none");
    assertThat(selectors(attest("", status(null, new IntegrityPolicy(true, true, true, false)))))
        .contains("policy:tpm", "policy:measured_boot").doesNotContain("policy:none", "policy:runtime");

    String conf = "require_integrity_policy = true\n";
    AttestStreamTest.Recorder out = attest(conf, status(null, NONE));
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.error.getDescription()).contains("Keylime checks nothing for this node")
        .contains("tpm_policy {\"mask\": \"0x0\"}").contains("--tpm_policy");
    assertThat(out.messages).isEmpty();
    out = attest(conf, status(null, IntegrityPolicy.UNKNOWN));
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(selectors(attest(conf, status(null, TPM)))).contains("policy:tpm");
  }

  @Test
  void trustKeysAreCheckedWithTheOtherProblems() {
    assertThatThrownBy(() -> ServerConfig.parse("example.org", AttestStreamTest.pki.pluginData(
        "ek_hash_allow_list = \"" + dir.resolve("absent") + "\"\nrequire_integrity_policy = \"yes\"\n"
            + "ek_binding {\n spire_server_socket = \"api.sock\"\n}\nrequired_meta_data {\n site = 1\n}\n")))
        .isInstanceOf(HclException.class)
        .satisfies(e -> assertThat(((HclException) e).problems()).anyMatch(p -> p.contains("ek_hash_allow_list: no such"))
            .anyMatch(p -> p.contains("require_integrity_policy must be true or false"))
            .anyMatch(p -> p.contains("spire_server_socket must be an absolute path"))
            .anyMatch(p -> p.contains("site must be a string")));
    assertThatThrownBy(() -> ServerConfig.parse("example.org", AttestStreamTest.pki.pluginData(
        "pcr_policy {\n pcrs = [7]\n expected {\n \"7\" = [\"" + "00".repeat(32) + "\", \"abcd\"]\n }\n}\n")))
        .hasMessageContaining("pcr_policy.expected.7: \"abcd\" is 2 bytes, a sha256 PCR holds 32");
  }

  @Test
  void pcrPolicyTakesAListOfGoldenValuesPerPcr() throws Exception {
    String zeros = "00".repeat(32);
    String ff = "ff".repeat(32);
    String ee = "ee".repeat(32);
    assertThat(selectors(attest("pcr_policy {\n pcrs = [16, 23]\n expected {\n \"23\" = [\"" + ff + "\", \"" + zeros
        + "\"]\n }\n}\n", status(null, NONE)))).contains("uuid:" + AttestStreamTest.UUID);
    AttestStreamTest.Recorder out = attest("pcr_policy {\n pcrs = [16, 23]\n expected {\n \"23\" = [\"" + ff + "\", \""
        + ee + "\"]\n }\n}\n", status(null, NONE));
    assertThat(out.error.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(out.error.getDescription()).contains("PCR sha256:23 is " + zeros + ", the policy allows one of " + ff + ", "
        + ee);
  }
}
