package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GenerateKeyRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GetPublicKeyRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GetPublicKeysRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.HashAlgorithm;
import io.github.keylimeattestor.proto.spire.agent.keymanager.KeyManagerGrpc;
import io.github.keylimeattestor.proto.spire.agent.keymanager.KeyType;
import io.github.keylimeattestor.proto.spire.agent.keymanager.PublicKey;
import io.github.keylimeattestor.proto.spire.agent.keymanager.SignDataRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.SignDataResponse;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.sovereign.ClockHistory;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.github.keylimeattestor.sovereign.Nonce;
import io.github.keylimeattestor.sovereign.PcrPolicy;
import io.github.keylimeattestor.sovereign.VerifiedEvidence;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.command.Startup;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.testing.AgentDataWriter;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KeyManager "keylime_tpm" against a real swtpm, called over gRPC as spire-agent calls it; and the
 * NodeAttestor certifying its keys, checked with the server's {@link EvidenceVerifier}.
 */
class TpmKeyManagerTest {
  static final ByteArrayOutputStream LOG = new ByteArrayOutputStream();
  static final String UUID = "0e2f6a4c-7c1b-4f1e-9d52-3b5f3a8e1c02";
  static Swtpm swtpm;
  static Path agentData;
  static TpmPublic akPublic;
  /** The node's files shared by all tests (a JUnit temp dir: removed after the class). */
  @TempDir static Path nodeDir;

  @TempDir Path dir;
  Path keys;
  TpmKeyManagerPlugin plugin;
  Server server;
  ManagedChannel channel;
  KeyManagerGrpc.KeyManagerBlockingStub km;

  @BeforeAll
  static void startTpm() throws Exception {
    Log.redirect(LOG);
    swtpm = Swtpm.start();
    agentData = nodeDir.resolve("agent_data.json");
    try (var tpm = swtpm.tpm()) {
      KeylimeTpm k = new KeylimeTpm(tpm);
      KeyBlob ak = new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256));
      AgentDataWriter.write(ak, k.ekPublic().toPublicKey(), agentData);
      akPublic = ak.publicArea();
    }
  }

  @AfterAll
  static void stopTpm() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    keys = dir.resolve("svid-keys");
    start(new TpmKeyManagerPlugin());
  }

  void start(TpmKeyManagerPlugin p) throws Exception {
    plugin = p;
    plugin.configure(CoreConfiguration.getDefaultInstance(), "directory = \"" + keys + "\"\ntcti = \"" + swtpm.tcti() + "\"\n");
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).addService(plugin.pluginService()).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
    km = KeyManagerGrpc.newBlockingStub(channel);
  }

  @AfterEach
  void tearDown() throws Exception {
    channel.shutdownNow();
    server.shutdownNow().awaitTermination();
    try (var tpm = swtpm.tpm()) {
      assertThat(new KeylimeTpm(tpm).transientHandles()).as("nothing left loaded in the TPM").isEmpty();
    }
  }

  PublicKey generate(String id, KeyType type) {
    return km.generateKey(GenerateKeyRequest.newBuilder().setKeyId(id).setKeyType(type).build()).getPublicKey();
  }

  static byte[] sha256(byte[] data) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(data);
  }

  static java.security.PublicKey parse(PublicKey k, String alg) throws Exception {
    return KeyFactory.getInstance(alg).generatePublic(new X509EncodedKeySpec(k.getPkixData().toByteArray()));
  }

  @Test
  void generateKeyMakesATpmKeyStoredAsAPrivateBlob() throws Exception {
    PublicKey k = generate("agent-svid-A", KeyType.EC_P256);
    assertThat(k.getId()).isEqualTo("agent-svid-A");
    assertThat(k.getType()).isEqualTo(KeyType.EC_P256);
    assertThat(k.getFingerprint()).isEqualTo(HexFormat.of().formatHex(sha256(k.getPkixData().toByteArray())));
    Path blob = keys.resolve("agent-svid-A.tpmkey");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(blob))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keys))).isEqualTo("rwx------");
    KeyBlob b = KeyBlob.parse(Files.readAllBytes(blob));
    assertThat(b.publicArea().objectAttributes()).isEqualTo(Templates.APP_KEY_ATTRIBUTES);
    assertThat(b.publicArea().toPublicKey().getEncoded()).isEqualTo(k.getPkixData().toByteArray());
  }

  /** A directory spire-agent cannot write is a configuration to fix (FailedPrecondition), not a bug. */
  @Test
  void aKeyThatCannotBeStoredIsAFailedPreconditionNamingTheDirectory() throws Exception {
    if (Files.isDirectory(keys)) {
      try (var files = Files.list(keys)) {
        for (Path f : files.toList()) {
          Files.delete(f);
        }
      }
      Files.delete(keys);
    }
    Files.writeString(keys, "a file where the directory should be");
    assertThatThrownBy(() -> generate("agent-svid-A", KeyType.EC_P256))
        .isInstanceOfSatisfying(io.grpc.StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).contains(keys.toString()).contains("write access to directory");
        });
    Files.delete(keys);
  }

  @Test
  void generateKeyOverwritesAndChangesTheFingerprint() throws Exception {
    PublicKey first = generate("agent-svid-A", KeyType.EC_P256);
    PublicKey second = generate("agent-svid-A", KeyType.EC_P256);
    assertThat(second.getFingerprint()).isNotEqualTo(first.getFingerprint());
    assertThat(second.getPkixData()).isNotEqualTo(first.getPkixData());
    assertThat(km.getPublicKey(GetPublicKeyRequest.newBuilder().setKeyId("agent-svid-A").build()).getPublicKey())
        .isEqualTo(second);
    PublicKey b = generate("agent-svid-B", KeyType.EC_P256);
    assertThat(km.getPublicKeys(GetPublicKeysRequest.getDefaultInstance()).getPublicKeysList())
        .containsExactly(second, b);
  }

  @Test
  void signDataIsAnEcdsaSignatureByTheKeyWithItsFingerprint() throws Exception {
    PublicKey k = generate("agent-svid-A", KeyType.EC_P256);
    byte[] csr = "certification request info".getBytes(StandardCharsets.US_ASCII);
    SignDataResponse r = km.signData(SignDataRequest.newBuilder().setKeyId("agent-svid-A")
        .setData(ByteString.copyFrom(sha256(csr))).setHashAlgorithm(HashAlgorithm.SHA256).build());
    assertThat(r.getKeyFingerprint()).isEqualTo(k.getFingerprint());
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(parse(k, "EC"));
    v.update(csr);
    assertThat(v.verify(r.getSignature().toByteArray())).as("ASN.1 DER ECDSA signature verifies").isTrue();
  }

  @Test
  void p384AndRsaKeysSignAsSpireAsks() throws Exception {
    byte[] data = "data".getBytes(StandardCharsets.US_ASCII);
    PublicKey p384 = generate("p384", KeyType.EC_P384);
    SignDataResponse r = km.signData(SignDataRequest.newBuilder().setKeyId("p384")
        .setData(ByteString.copyFrom(MessageDigest.getInstance("SHA-384").digest(data)))
        .setHashAlgorithm(HashAlgorithm.SHA384).build());
    Signature v = Signature.getInstance("SHA384withECDSA");
    v.initVerify(parse(p384, "EC"));
    v.update(data);
    assertThat(v.verify(r.getSignature().toByteArray())).isTrue();

    PublicKey rsa = generate("rsa", KeyType.RSA_2048);
    r = km.signData(SignDataRequest.newBuilder().setKeyId("rsa").setData(ByteString.copyFrom(sha256(data)))
        .setHashAlgorithm(HashAlgorithm.SHA256).build());
    v = Signature.getInstance("SHA256withRSA");
    v.initVerify(parse(rsa, "RSA"));
    v.update(data);
    assertThat(v.verify(r.getSignature().toByteArray())).isTrue();

    r = km.signData(SignDataRequest.newBuilder().setKeyId("rsa").setData(ByteString.copyFrom(sha256(data)))
        .setPssOptions(SignDataRequest.PSSOptions.newBuilder().setSaltLength(-1).setHashAlgorithm(HashAlgorithm.SHA256))
        .build());
    v = Signature.getInstance("RSASSA-PSS");
    v.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
    v.initVerify(parse(rsa, "RSA"));
    v.update(data);
    assertThat(v.verify(r.getSignature().toByteArray())).isTrue();
  }

  @Test
  void unknownKeysAreNotFoundAndBadRequestsInvalid() throws Exception {
    assertThatThrownBy(() -> km.getPublicKey(GetPublicKeyRequest.newBuilder().setKeyId("agent-svid-A").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    assertThatThrownBy(() -> km.signData(SignDataRequest.newBuilder().setKeyId("nope")
        .setData(ByteString.copyFrom(new byte[32])).setHashAlgorithm(HashAlgorithm.SHA256).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    generate("agent-svid-A", KeyType.EC_P256);
    for (SignDataRequest bad : List.of(
        SignDataRequest.newBuilder().setKeyId("agent-svid-A").setData(ByteString.copyFrom(new byte[32])).build(),
        SignDataRequest.newBuilder().setKeyId("agent-svid-A").setData(ByteString.copyFrom(new byte[20]))
            .setHashAlgorithm(HashAlgorithm.SHA256).build(),
        SignDataRequest.newBuilder().setKeyId("agent-svid-A").setData(ByteString.copyFrom(new byte[28]))
            .setHashAlgorithm(HashAlgorithm.SHA224).build(),
        SignDataRequest.newBuilder().setKeyId("").setData(ByteString.copyFrom(new byte[32]))
            .setHashAlgorithm(HashAlgorithm.SHA256).build())) {
      assertThatThrownBy(() -> km.signData(bad)).isInstanceOfSatisfying(StatusRuntimeException.class,
          e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }
    assertThatThrownBy(() -> generate("../escape", KeyType.EC_P256)).isInstanceOfSatisfying(StatusRuntimeException.class,
        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    assertThatThrownBy(() -> generate("x", KeyType.UNSPECIFIED_KEY_TYPE)).isInstanceOfSatisfying(
        StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
  }

  @Test
  void aRestartedPluginReloadsItsKeysFromTheBlobs() throws Exception {
    PublicKey a = generate("agent-svid-A", KeyType.EC_P256);
    tearDown();
    start(new TpmKeyManagerPlugin());
    assertThat(km.getPublicKeys(GetPublicKeysRequest.getDefaultInstance()).getPublicKeysList()).containsExactly(a);
    signsWith(a);
  }

  /**
   * A GenerateKey that spire-agent gave up on (its deadline passed while the TPM made the key, here
   * an RSA-2048 key, which swtpm takes far longer than 10 ms to make) leaves the key of that ID as it
   * was: spire-agent will never use the late one.
   */
  @Test
  void aGenerateKeyCancelledByItsDeadlineReplacesNothing() throws Exception {
    PublicKey a = generate("agent-svid-A", KeyType.EC_P256);
    int before = LOG.toString(StandardCharsets.UTF_8).split("spire-agent gave up on a GenerateKey", -1).length;
    assertThatThrownBy(() -> km.withDeadlineAfter(10, java.util.concurrent.TimeUnit.MILLISECONDS).generateKey(
        GenerateKeyRequest.newBuilder().setKeyId("agent-svid-A").setKeyType(KeyType.RSA_2048).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    // the handler ran on, made the key, and then did not store it (a handler never started would say nothing)
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() ->
        LOG.toString(StandardCharsets.UTF_8).split("spire-agent gave up on a GenerateKey", -1).length > before);
    assertThat(km.getPublicKey(GetPublicKeyRequest.newBuilder().setKeyId("agent-svid-A").build()).getPublicKey())
        .isEqualTo(a);
    signsWith(a);
    tearDown();
    start(new TpmKeyManagerPlugin());
    assertThat(km.getPublicKey(GetPublicKeyRequest.newBuilder().setKeyId("agent-svid-A").build()).getPublicKey())
        .as("and on disk").isEqualTo(a);
  }

  /**
   * SPIRE configures again on SIGUSR1 (plugin_data_file) while it serves: SignData of a key never
   * finds it missing, and a GenerateKey racing the reloads leaves the key served the one on disk.
   */
  @Test
  void reconfiguringWhileServingNeitherDropsKeysNorBringsBackAReplacedOne() throws Exception {
    PublicKey a = generate("agent-svid-A", KeyType.EC_P256);
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
    try {
      java.util.concurrent.Future<Integer> signing = pool.submit(() -> {
        int n = 0;
        while (!stop.get()) {
          signsWith(a);
          n++;
        }
        return n;
      });
      java.util.concurrent.Future<PublicKey> replacing = pool.submit(() -> generate("agent-svid-B", KeyType.EC_P256));
      for (int i = 0; i < 5; i++) {
        plugin.configure(CoreConfiguration.getDefaultInstance(), "directory = \"" + keys + "\"\ntcti = \""
            + swtpm.tcti() + "\"\n");
      }
      PublicKey b = replacing.get(60, java.util.concurrent.TimeUnit.SECONDS);
      stop.set(true);
      assertThat(signing.get(60, java.util.concurrent.TimeUnit.SECONDS)).isPositive();
      assertThat(km.getPublicKey(GetPublicKeyRequest.newBuilder().setKeyId("agent-svid-B").build()).getPublicKey())
          .isEqualTo(b);
      signsWith(b);
    } finally {
      stop.set(true);
      pool.shutdownNow();
    }
    // what is on disk is what was served
    PublicKey served = km.getPublicKey(GetPublicKeyRequest.newBuilder().setKeyId("agent-svid-B").build()).getPublicKey();
    tearDown();
    start(new TpmKeyManagerPlugin());
    assertThat(km.getPublicKey(GetPublicKeyRequest.newBuilder().setKeyId("agent-svid-B").build()).getPublicKey())
        .isEqualTo(served);
  }

  /**
   * The keys have no password: a blob others can read is a key anyone with the TPM can use, and a
   * directory others can write lets them put their own key in its place. Both are refused, naming the fix.
   */
  @Test
  void aBlobOthersCanReadOrADirectoryOthersCanWriteIsRefused() throws Exception {
    generate("agent-svid-A", KeyType.EC_P256);
    Path blob = keys.resolve("agent-svid-A.tpmkey");
    Files.setPosixFilePermissions(blob, PosixFilePermissions.fromString("rw-r--r--"));
    tearDown();
    assertThatThrownBy(() -> start(new TpmKeyManagerPlugin())).isInstanceOfSatisfying(
        io.grpc.StatusException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).contains("SVID key blob " + blob + " has mode rw-r--r--")
              .contains("chmod 600 " + blob);
        });
    Files.setPosixFilePermissions(blob, PosixFilePermissions.fromString("rw-------"));
    Files.setPosixFilePermissions(keys, PosixFilePermissions.fromString("rwxrwxr-x"));
    assertThatThrownBy(() -> start(new TpmKeyManagerPlugin())).isInstanceOfSatisfying(
        io.grpc.StatusException.class, e -> assertThat(e.getStatus().getDescription())
            .contains("directory " + keys + " has mode rwxrwxr-x").doesNotContain("svid_key_directory")
            .contains("chmod go-w " + keys));
    Files.setPosixFilePermissions(keys, PosixFilePermissions.fromString("rwx------"));
    start(new TpmKeyManagerPlugin());
  }

  @Test
  void aBlobThisTpmNoLongerLoadsIsDroppedAtConfigureSoSpireMakesANewKey() throws Exception {
    PublicKey a = generate("agent-svid-A", KeyType.EC_P256);
    byte[] blob = Files.readAllBytes(keys.resolve("agent-svid-A.tpmkey"));
    blob[10] ^= 0x5a; // inside the TPM2B_PRIVATE: the TPM's integrity check fails (as after TPM2_Clear)
    Files.write(keys.resolve("agent-svid-B.tpmkey"), blob);
    Files.setPosixFilePermissions(keys.resolve("agent-svid-B.tpmkey"), PosixFilePermissions.fromString("rw-------"));
    tearDown();
    start(new TpmKeyManagerPlugin());
    // B is not offered: spire-agent finds no key for its cached SVID and re-attests with a new one
    assertThat(km.getPublicKeys(GetPublicKeysRequest.getDefaultInstance()).getPublicKeysList()).containsExactly(a);
    assertThat(LOG.toString(StandardCharsets.UTF_8)).contains("the TPM no longer loads this SVID key");
  }

  @Test
  void keysSurviveATpmRestart() throws Exception {
    PublicKey a = generate("agent-svid-A", KeyType.EC_P256);
    powerCycle();
    signsWith(a);
    tearDown();
    start(new TpmKeyManagerPlugin());
    signsWith(a);
  }

  @Test
  void theNodeAttestorCertifiesTheKeyManagersKeysWithTheAk() throws Exception {
    PublicKey a = generate("agent-svid-A", KeyType.EC_P256);
    PublicKey b = generate("agent-svid-B", KeyType.EC_P256);
    KeylimeAgentPlugin attestor = new KeylimeAgentPlugin();
    attestor.configure(CoreConfiguration.getDefaultInstance(), "tcti = \"" + swtpm.tcti() + "\"\n"
        + "agent_data_path = \"" + agentData + "\"\nkeylime_agent_uuid = \"" + UUID + "\"\n"
        + "app_key_path = \"" + dir.resolve("app_key.blob") + "\"\nsvid_key_directory = \"" + keys + "\"\n");
    try (InProcessAttestor spire = new InProcessAttestor(attestor.nodeAttestor())) {
      Nonce nonce = Nonce.mint(new SecureRandom());
      InProcessAttestor.Result r = spire.attest(p -> WireFormat.encodeChallenge(nonce, PcrSelection.of(Alg.SHA256, 16)));
      assertThat(r.error()).isNull();
      WireFormat.Payload payload = WireFormat.decodePayload(r.payload());
      assertThat(payload.version()).isEqualTo(2);
      SovereignAttestation att = SovereignAttestation.parseFrom(r.response());
      VerifiedEvidence ev = new EvidenceVerifier(new ClockHistory(16)).verify(nonce,
          new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of()), payload, att, akPublic);
      assertThat(ev.svidKeys()).extracting(VerifiedEvidence.CertifiedSvidKey::keyId)
          .containsExactly("agent-svid-A", "agent-svid-B");
      assertThat(ev.svidKeys().get(0).spki().toByteArray()).isEqualTo(a.getPkixData().toByteArray());
      assertThat(ev.svidKeys().get(1).spki().toByteArray()).isEqualTo(b.getPkixData().toByteArray());

      // the same certification under another nonce, or for another key ID, does not verify
      Nonce other = Nonce.mint(new SecureRandom());
      assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(16)).verify(other,
          new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of()), payload,
          att.toBuilder().setChallengeNonce(other.text()).build(), akPublic))
          .isInstanceOf(io.github.keylimeattestor.sovereign.EvidenceException.class);
      SovereignAttestation swapped = att.toBuilder().setSvidKeys(0, att.getSvidKeys(0).toBuilder().setKeyId("agent-svid-C"))
          .build();
      assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(16)).verify(nonce,
          new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of()), payload, swapped, akPublic))
          .hasMessageContaining("SVID key agent-svid-C");
      // a version 1 payload cannot be followed by SVID keys
      WireFormat.Payload v1 = new WireFormat.Payload(payload.agentId(), payload.appKey(), payload.appKeyRaw(),
          payload.hashAlg(), 1);
      assertThatThrownBy(() -> new EvidenceVerifier(new ClockHistory(16)).verify(nonce,
          new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of()), v1, att, akPublic))
          .hasMessageContaining("cannot carry SVID keys");
    }
  }

  @Test
  void aBlobThisTpmDoesNotLoadIsNotCertifiedAndTheAttestationGoesOn() throws Exception {
    PublicKey a = generate("agent-svid-A", KeyType.EC_P256);
    byte[] blob = Files.readAllBytes(keys.resolve("agent-svid-A.tpmkey"));
    blob[10] ^= 0x5a; // inside the TPM2B_PRIVATE: the TPM's integrity check fails
    Files.write(keys.resolve("agent-svid-B.tpmkey"), blob);
    Files.setPosixFilePermissions(keys.resolve("agent-svid-B.tpmkey"), PosixFilePermissions.fromString("rw-------"));
    List<VerifiedEvidence.CertifiedSvidKey> certified = attestWithSvidKeys();
    assertThat(certified).extracting(VerifiedEvidence.CertifiedSvidKey::keyId).containsExactly("agent-svid-A");
    assertThat(certified.get(0).spki().toByteArray()).isEqualTo(a.getPkixData().toByteArray());
    assertThat(LOG.toString(StandardCharsets.UTF_8)).contains("not certifying an SVID key blob this TPM does not load");
  }

  /**
   * A decrypt key in the directory (not the KeyManager's doing) would make the server refuse the whole
   * attestation (PermissionDenied, final): it is neither certified nor offered to spire-agent.
   */
  @Test
  void aBlobThatIsNoSigningKeyIsNotCertifiedNorOffered() throws Exception {
    PublicKey a = generate("agent-svid-A", KeyType.EC_P256);
    int decrypting = (Templates.APP_KEY_ATTRIBUTES & ~io.github.keylimeattestor.tpm.ObjectAttributes.SIGN)
        | io.github.keylimeattestor.tpm.ObjectAttributes.DECRYPT;
    KeyBlob decrypt;
    try (var tpm = swtpm.tpm()) {
      decrypt = new KeylimeTpm(tpm).createSigningKey(TpmPublic.ecc(Alg.SHA256, decrypting, new byte[0],
          TpmPublic.SymDef.NULL, TpmPublic.Scheme.NULL, Alg.ECC_NIST_P256, TpmPublic.Scheme.NULL, new byte[0],
          new byte[0]));
    }
    Path b = keys.resolve("agent-svid-B.tpmkey");
    Files.write(b, decrypt.marshal());
    Files.setPosixFilePermissions(b, PosixFilePermissions.fromString("rw-------"));
    tearDown();
    start(new TpmKeyManagerPlugin());
    assertThat(km.getPublicKeys(GetPublicKeysRequest.getDefaultInstance()).getPublicKeysList()).containsExactly(a);
    assertThat(attestWithSvidKeys()).extracting(VerifiedEvidence.CertifiedSvidKey::keyId)
        .containsExactly("agent-svid-A");
    assertThat(LOG.toString(StandardCharsets.UTF_8)).contains("not certifying an SVID key blob that is no TPM-resident "
        + "signing key").contains("ignoring a key blob that is no TPM-resident signing key");
  }

  /** One attestation by a NodeAttestor reading {@code keys}, verified as the server would: the SVID keys certified. */
  List<VerifiedEvidence.CertifiedSvidKey> attestWithSvidKeys() throws Exception {
    KeylimeAgentPlugin attestor = new KeylimeAgentPlugin();
    attestor.configure(CoreConfiguration.getDefaultInstance(), "tcti = \"" + swtpm.tcti() + "\"\n"
        + "agent_data_path = \"" + agentData + "\"\nkeylime_agent_uuid = \"" + UUID + "\"\n"
        + "app_key_path = \"" + dir.resolve("app_key.blob") + "\"\nsvid_key_directory = \"" + keys + "\"\n");
    try (InProcessAttestor spire = new InProcessAttestor(attestor.nodeAttestor())) {
      Nonce nonce = Nonce.mint(new SecureRandom());
      InProcessAttestor.Result r = spire.attest(p -> WireFormat.encodeChallenge(nonce, PcrSelection.of(Alg.SHA256, 16)));
      assertThat(r.error()).isNull();
      VerifiedEvidence ev = new EvidenceVerifier(new ClockHistory(16)).verify(nonce,
          new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of()), WireFormat.decodePayload(r.payload()),
          SovereignAttestation.parseFrom(r.response()), akPublic);
      return ev.svidKeys();
    }
  }

  void signsWith(PublicKey k) throws Exception {
    byte[] data = "after".getBytes(StandardCharsets.US_ASCII);
    SignDataResponse r = km.signData(SignDataRequest.newBuilder().setKeyId(k.getId())
        .setData(ByteString.copyFrom(sha256(data))).setHashAlgorithm(HashAlgorithm.SHA256).build());
    assertThat(r.getKeyFingerprint()).isEqualTo(k.getFingerprint());
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(parse(k, "EC"));
    v.update(data);
    assertThat(v.verify(r.getSignature().toByteArray())).isTrue();
  }

  /** swtpm's CMD_INIT on the control channel (a TPM reset, as at power-on), then TPM2_Startup(CLEAR). */
  static void powerCycle() throws Exception {
    try (Socket s = new Socket("127.0.0.1", swtpm.ctrlPort)) {
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      out.writeInt(0x02);
      out.writeInt(0);
      out.flush();
      assertThat(new DataInputStream(s.getInputStream()).readInt()).as("CMD_INIT result").isZero();
    }
    try (var tpm = swtpm.tpm()) {
      tpm.execute(new Startup(Startup.CLEAR));
    }
  }
}
