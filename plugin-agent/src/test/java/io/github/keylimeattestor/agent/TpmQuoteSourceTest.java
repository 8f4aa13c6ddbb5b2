package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.sovereign.ClockHistory;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.github.keylimeattestor.sovereign.Nonce;
import io.github.keylimeattestor.sovereign.PcrPolicy;
import io.github.keylimeattestor.sovereign.VerifiedEvidence;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.ResponseCode;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.TpmResponseException;
import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.testing.AgentDataWriter;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.github.keylimeattestor.tpm.testing.Tabrmd;
import com.google.protobuf.Empty;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.AddSampleRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.IncrCounterRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.Label;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.MetricsGrpc;
import io.github.keylimeattestor.sdk.HostServices;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent plugin with quote_source = "tpm" against a real swtpm and an agent_data.json written as
 * rust-keylime writes it; every answer is checked with the server's {@link EvidenceVerifier}.
 */
class TpmQuoteSourceTest {
  static final String UUID = "0e2f6a4c-7c1b-4f1e-9d52-3b5f3a8e1c01";
  static final SecureRandom RANDOM = new SecureRandom();
  static final ByteArrayOutputStream LOG = new ByteArrayOutputStream();

  static Swtpm swtpm;
  @TempDir static Path shared;
  static Path agentData;
  static TpmPublic akPublic;

  @TempDir Path dir;
  KeylimeAgentPlugin plugin;
  InProcessAttestor spire;
  EvidenceVerifier verifier;

  @BeforeAll
  static void startTpm() throws Exception {
    Log.redirect(LOG);
    swtpm = Swtpm.start();
    agentData = shared.resolve("agent_data.json");
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
    LOG.reset(); // each test reads its own lines
    plugin = new KeylimeAgentPlugin();
    spire = new InProcessAttestor(plugin.nodeAttestor());
    verifier = new EvidenceVerifier(new ClockHistory(16));
    configure(config());
  }

  @AfterEach
  void tearDown() throws Exception {
    spire.close();
  }

  String config(String... extra) {
    return "swtpm_address = \"127.0.0.1:" + swtpm.port + "\"\n"
        + "agent_data_path = \"" + agentData + "\"\n"
        + "keylime_agent_uuid = \"" + UUID + "\"\n"
        + "app_key_path = \"" + dir.resolve("keys/app_key.blob") + "\"\n"
        + String.join("\n", extra) + "\n";
  }

  void configure(String hcl) throws Exception {
    plugin.configure(CoreConfiguration.newBuilder().setTrustDomain("example.org").build(), hcl);
  }

  /** Attests with a fresh challenge and returns what the server's verifier accepted. */
  VerifiedEvidence attestAndVerify(int... pcrs) throws Exception {
    Nonce nonce = Nonce.mint(RANDOM);
    PcrSelection selection = PcrSelection.of(Alg.SHA256, pcrs);
    InProcessAttestor.Result r = spire.attest(p -> WireFormat.encodeChallenge(nonce, selection));
    assertThat(r.error()).as("attestation error").isNull();
    WireFormat.Payload payload = WireFormat.decodePayload(r.payload());
    return verifier.verify(nonce, new PcrPolicy(Alg.SHA256, pcrs, Map.of()), payload,
        SovereignAttestation.parseFrom(r.response()), akPublic);
  }

  InProcessAttestor.Result attestExpectingError() throws Exception {
    InProcessAttestor.Result r = spire.attest(p -> WireFormat.encodeChallenge(Nonce.mint(RANDOM),
        PcrSelection.of(Alg.SHA256, 16)));
    assertThat(r.error()).as("attestation should fail").isNotNull();
    return r;
  }

  List<Integer> transientHandles() throws Exception {
    try (var tpm = swtpm.tpm()) {
      return new KeylimeTpm(tpm).transientHandles();
    }
  }

  String log() {
    return LOG.toString(StandardCharsets.UTF_8);
  }

  @Test
  void evidenceFromTheTpmVerifiesWithTheAkFromAgentData() throws Exception {
    VerifiedEvidence v = attestAndVerify(16);
    assertThat(v.agentId().value()).isEqualTo(UUID);
    assertThat(v.ak().name()).isEqualTo(akPublic.name());
    Path appKey = dir.resolve("keys/app_key.blob");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(appKey))).isEqualTo("rw-------");
    assertThat(transientHandles()).isEmpty();
  }

  @Test
  void quotesEveryPcrTheServerAsksFor() throws Exception {
    VerifiedEvidence v = attestAndVerify(0, 1, 7, 16, 23);
    assertThat(v.pcrs().value(Alg.SHA256, 23)).isNotNull();
  }

  @Test
  void appKeyIsCreatedOnceAndReusedAcrossAttestations() throws Exception {
    VerifiedEvidence first = attestAndVerify(16);
    byte[] blob = Files.readAllBytes(dir.resolve("keys/app_key.blob"));
    for (int i = 0; i < 5; i++) {
      VerifiedEvidence again = attestAndVerify(16);
      assertThat(again.appKey().marshal()).isEqualTo(first.appKey().marshal());
    }
    assertThat(Files.readAllBytes(dir.resolve("keys/app_key.blob"))).isEqualTo(blob);
    assertThat(transientHandles()).as("repeated attestations leave no transient objects").isEmpty();
    // a fresh plugin process finds the same key
    KeylimeAgentPlugin restarted = new KeylimeAgentPlugin();
    restarted.configure(CoreConfiguration.getDefaultInstance(), config());
    try (InProcessAttestor other = new InProcessAttestor(restarted.nodeAttestor())) {
      InProcessAttestor.Result r = other.attest(p -> WireFormat.encodeChallenge(Nonce.mint(RANDOM),
          PcrSelection.of(Alg.SHA256, 16)));
      assertThat(WireFormat.decodePayload(r.payload()).appKey().marshal()).isEqualTo(first.appKey().marshal());
    }
  }

  @Test
  void aDamagedAppKeyBlobIsReplacedWithAWarning() throws Exception {
    VerifiedEvidence first = attestAndVerify(16);
    Path file = dir.resolve("keys/app_key.blob");
    byte[] blob = Files.readAllBytes(file);
    blob[20] ^= 0x55; // inside the encrypted private part: TPM2_Load fails its integrity check
    Files.write(file, blob);
    VerifiedEvidence second = attestAndVerify(16);
    assertThat(second.appKey().marshal()).isNotEqualTo(first.appKey().marshal());
    assertThat(log()).contains("replaced the App Key").contains("TPM_RC_INTEGRITY");

    Files.writeString(file, "not a key blob");
    VerifiedEvidence third = attestAndVerify(16);
    assertThat(third.appKey().marshal()).isNotEqualTo(second.appKey().marshal());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThat(transientHandles()).isEmpty();
  }

  @Test
  void anAppKeyFromAnotherTpmIsReplaced() throws Exception {
    Path file = dir.resolve("keys/app_key.blob");
    Files.createDirectories(file.getParent(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    try (Swtpm other = Swtpm.start(); var tpm = other.tpm()) {
      Files.write(file, new KeylimeTpm(tpm).createAppKey(Templates.appKeyEccP256()).marshal());
    }
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    byte[] foreign = Files.readAllBytes(file);
    attestAndVerify(16);
    assertThat(Files.readAllBytes(file)).isNotEqualTo(foreign);
    assertThat(log()).contains("replaced the App Key");
  }

  /** tcti naming another TPM than the App Key's and the AK's (say, a leftover swtpm): the App Key is kept. */
  @Test
  void anAppKeyIsKeptWhenTheTpmLoadsNeitherItNorTheAk() throws Exception {
    Path file = dir.resolve("keys/app_key.blob");
    Files.createDirectories(file.getParent(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Path foreignData = dir.resolve("foreign_agent_data.json");
    try (Swtpm other = Swtpm.start(); var tpm = other.tpm()) {
      KeylimeTpm k = new KeylimeTpm(tpm);
      Files.write(file, k.createAppKey(Templates.appKeyEccP256()).marshal());
      AgentDataWriter.write(new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256)), k.ekPublic().toPublicKey(),
          foreignData);
    }
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    byte[] kept = Files.readAllBytes(file);
    configure(config().replace(agentData.toString(), foreignData.toString()));
    InProcessAttestor.Result r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(r.error().getDescription()).contains("loads neither the App Key at app_key_path " + file)
        .contains("nor the Keylime AK").contains("tcti").contains("the App Key is kept");
    assertThat(Files.readAllBytes(file)).isEqualTo(kept);
    assertThat(transientHandles()).isEmpty();
  }

  @Test
  void anAppKeyDirectoryOthersCanWriteIsRefused() throws Exception {
    attestAndVerify(16);
    Path keys = dir.resolve("keys");
    Files.setPosixFilePermissions(keys, PosixFilePermissions.fromString("rwxrwx---"));
    try {
      InProcessAttestor.Result r = attestExpectingError();
      assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(r.error().getDescription()).contains("app_key_path's directory " + keys)
          .contains("chmod go-w " + keys);
    } finally {
      Files.setPosixFilePermissions(keys, PosixFilePermissions.fromString("rwx------"));
    }
    attestAndVerify(16);
  }

  @Test
  void concurrentStreamsAllVerify() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<VerifiedEvidence>> results = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        Callable<VerifiedEvidence> c = () -> {
          Nonce nonce = Nonce.mint(RANDOM);
          InProcessAttestor.Result r = spire.attest(p -> WireFormat.encodeChallenge(nonce,
              PcrSelection.of(Alg.SHA256, 16)));
          assertThat(r.error()).isNull();
          // each stream gets its own verifier: the shared clock history is for one stream order
          return new EvidenceVerifier(new ClockHistory(4)).verify(nonce,
              new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of()), WireFormat.decodePayload(r.payload()),
              SovereignAttestation.parseFrom(r.response()), akPublic);
        };
        results.add(pool.submit(c));
      }
      byte[] appKey = null;
      for (Future<VerifiedEvidence> f : results) {
        byte[] k = f.get().appKey().marshal();
        if (appKey != null) {
          assertThat(k).as("one App Key for all streams").isEqualTo(appKey);
        }
        appKey = k;
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(transientHandles()).isEmpty();
  }

  @Test
  void unreachableTpmIsUnavailableAndTheNextAttestationStartsClean() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    configure(config().replace("127.0.0.1:" + swtpm.port, "127.0.0.1:" + closedPort));
    InProcessAttestor.Result r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(r.error().getDescription()).contains("swtpm 127.0.0.1:" + closedPort).contains("check tcti")
        .startsWith("cannot talk to the TPM (swtpm 127.0.0.1:" + closedPort + ") while ")
        .endsWith("; check tcti and that the TPM (or tpm2-abrmd) is up");

    configure(config());
    attestAndVerify(16);
  }

  @Test
  void metricsCountTheOutcomeAndTimeTheTpm() throws Exception {
    BlockingQueue<com.google.protobuf.MessageLite> sent = new LinkedBlockingQueue<>();
    MetricsGrpc.MetricsImplBase host = new MetricsGrpc.MetricsImplBase() {
      @Override
      public void incrCounter(IncrCounterRequest r, StreamObserver<Empty> out) {
        sent.add(r);
        out.onNext(Empty.getDefaultInstance());
        out.onCompleted();
      }

      @Override
      public void addSample(AddSampleRequest r, StreamObserver<Empty> out) {
        sent.add(r);
        out.onNext(Empty.getDefaultInstance());
        out.onCompleted();
      }
    };
    String name = InProcessServerBuilder.generateName();
    Server metricsServer = InProcessServerBuilder.forName(name).addService(host).build().start();
    ManagedChannel toHost = InProcessChannelBuilder.forName(name).build();
    try {
      plugin = new KeylimeAgentPlugin(new AgentMetrics(Optional.of(HostServices.metricsStub(toHost))));
      spire.close();
      spire = new InProcessAttestor(plugin.nodeAttestor());
      configure(config());
      attestAndVerify(16);
      assertThat(take(sent, 3)).containsExactlyInAnyOrder(
          "keylime_attestor.tpm_ms{step=payload}", "keylime_attestor.tpm_ms{step=challenge}",
          "keylime_attestor.attestation{outcome=ok,phase=challenge} 1");

      int closedPort;
      try (ServerSocket s = new ServerSocket(0)) {
        closedPort = s.getLocalPort();
      }
      configure(config().replace("127.0.0.1:" + swtpm.port, "127.0.0.1:" + closedPort));
      assertThat(attestExpectingError().error().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(take(sent, 1)).containsExactly("keylime_attestor.attestation{outcome=unavailable,phase=payload} 1");
      assertThat(sent.poll(300, TimeUnit.MILLISECONDS)).as("nothing else sent").isNull();
    } finally {
      toHost.shutdownNow();
      metricsServer.shutdownNow();
    }
  }

  /** The next {@code n} metrics sent, as key{labels} (and the value of a counter). */
  static List<String> take(BlockingQueue<com.google.protobuf.MessageLite> sent, int n) throws InterruptedException {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      com.google.protobuf.MessageLite m = sent.poll(10, TimeUnit.SECONDS);
      assertThat(m).as("metric %d of %d", i + 1, n).isNotNull();
      if (m instanceof IncrCounterRequest c) {
        out.add(String.join(".", c.getKeyList()) + labels(c.getLabelsList()) + " " + (long) c.getVal());
      } else {
        AddSampleRequest a = (AddSampleRequest) m;
        assertThat(a.getVal()).as("TPM milliseconds").isPositive();
        out.add(String.join(".", a.getKeyList()) + labels(a.getLabelsList()));
      }
    }
    return out;
  }

  static String labels(List<Label> labels) {
    return labels.stream().map(l -> l.getName() + "=" + l.getValue())
        .collect(java.util.stream.Collectors.joining(",", "{", "}"));
  }

  /** Fills every transient slot of the swtpm with objects of another client, as leaked AKs would. */
  List<Integer> fillTransientSlots() throws Exception {
    List<Integer> held = new ArrayList<>();
    try (var tpm = swtpm.tpm()) {
      while (true) {
        try {
          held.add(tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256())).handle());
        } catch (TpmResponseException e) {
          assertThat(e.responseCode().base()).isEqualTo(ResponseCode.OBJECT_MEMORY);
          return held;
        }
      }
    }
  }

  void flush(List<Integer> handles) throws Exception {
    try (var tpm = swtpm.tpm()) {
      for (int h : handles) {
        tpm.execute(new FlushContext(h));
      }
    }
  }

  @Test
  void slotsTakenByAnotherClientAreWaitedForAndTheAttestationSucceedsOnceFreed() throws Exception {
    configure(config("timeout = \"8s\""));
    List<Integer> held = fillTransientSlots();
    assertThat(held).hasSize(3);
    // the slots are freed once the plugin has met TPM_RC_OBJECT_MEMORY and says it tries again
    java.util.concurrent.CountDownLatch retrying = new java.util.concurrent.CountDownLatch(1);
    Log.redirect(new java.io.OutputStream() {
      private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

      @Override
      public synchronized void write(int b) {
        System.err.write(b);
        line.write(b);
        if (b == '\n') {
          String text = line.toString(java.nio.charset.StandardCharsets.UTF_8);
          if (text.contains("TPM busy, trying again") && text.contains("TPM_RC_OBJECT_MEMORY")) {
            retrying.countDown();
          }
          line.reset();
        }
      }
    });
    java.util.concurrent.CompletableFuture<Long> freer = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        if (!retrying.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
          throw new IllegalStateException("the plugin never said it tries the TPM again");
        }
        flush(held);
        return System.nanoTime();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    try {
      attestAndVerify(16);
      long done = System.nanoTime();
      assertThat(freer.get(30, java.util.concurrent.TimeUnit.SECONDS)).as("slots freed before the attestation ended")
          .isLessThan(done);
    } finally {
      try {
        freer.get(30, java.util.concurrent.TimeUnit.SECONDS);
      } finally {
        Log.redirect(LOG); // the class's own buffer, which log() reads
      }
    }
    assertThat(transientHandles()).isEmpty();
  }

  @Test
  void slotsThatStayTakenEndInUnavailableSayingWhatRanOutAndWhatFixesIt() throws Exception {
    configure(config("timeout = \"1s\""));
    List<Integer> held = fillTransientSlots();
    try {
      InProcessAttestor.Result r = attestExpectingError();
      assertThat(r.error().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(r.error().getDescription()).contains("TPM_RC_OBJECT_MEMORY").contains("tries")
          .contains("transient object slots are all in use").contains("Keylime agent")
          .contains("tpm2_getcap handles-transient").contains("/dev/tpmrm0").contains("tpm2-abrmd");
      // word for word as docs/troubleshooting.md quotes it
      assertThat(r.error().getDescription())
          .startsWith("the TPM (swtpm 127.0.0.1:" + swtpm.port + ") is busy or out of resources while ")
          .contains(", still after ").contains(" tries: ")
          .contains(". Cause: the TPM's transient object slots are all in use (swtpm has 3): another client keeps "
              + "objects loaded, typically a Keylime agent on a TPM without resource manager, which keeps its AK "
              + "loaded and leaks one more at every restart (")
          .endsWith("). Fix: give every TPM client (also the Keylime agent) a resource manager: /dev/tpmrm0 "
              + "(tcti = \"device:/dev/tpmrm0\") or tpm2-abrmd (tcti = \"tabrmd\"), which swap other clients' "
              + "objects out");
      assertThat(transientHandles()).containsExactlyInAnyOrderElementsOf(held);
    } finally {
      flush(held);
    }
    attestAndVerify(16);
  }

  @Test
  void attestsThroughTpm2AbrmdBesideAClientHoldingEverySlotsWorth() throws Exception {
    try (Tabrmd abrmd = Tabrmd.start(swtpm.tcti())) {
      configure(config().replace("swtpm_address = \"127.0.0.1:" + swtpm.port + "\"", "tcti = \"" + abrmd.tcti() + "\""));
      attestAndVerify(16);
      // another client of the daemon keeps 3 objects loaded: abrmd swaps them out between commands
      try (Tpm foreign = abrmd.tpm()) {
        for (int i = 0; i < 3; i++) {
          foreign.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256()));
        }
        attestAndVerify(16);
        attestAndVerify(0, 1, 7, 16);
        assertThat(new KeylimeTpm(foreign).transientHandles()).hasSize(3);
      }
    }
    assertThat(transientHandles()).isEmpty();
  }

  @Test
  void missingAgentDataIsUnavailableWithAHint() throws Exception {
    configure(config().replace(agentData.toString(), dir.resolve("nope.json").toString()));
    InProcessAttestor.Result r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(r.error().getDescription()).contains("nope.json").contains("Keylime agent");
  }

  @Test
  void halfWrittenAgentDataIsUnavailableAndThePluginCarriesOn() throws Exception {
    Path half = dir.resolve("half_agent_data.json");
    byte[] whole = Files.readAllBytes(agentData);
    Files.write(half, java.util.Arrays.copyOf(whole, whole.length / 3));
    configure(config().replace(agentData.toString(), half.toString()));
    InProcessAttestor.Result r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(r.error().getDescription()).contains(half.toString()).contains("cut short")
        .contains("rewrites it at every start");
    Files.write(half, new byte[0]);
    assertThat(attestExpectingError().error().getDescription()).contains("is empty");
    Files.write(half, whole); // the Keylime agent has finished writing it
    attestAndVerify(16);
    assertThat(transientHandles()).isEmpty();
  }

  @Test
  void agentDataOfAnotherTpmIsAFailedPrecondition() throws Exception {
    Path foreign = dir.resolve("foreign_agent_data.json");
    try (Swtpm other = Swtpm.start(); var tpm = other.tpm()) {
      KeylimeTpm k = new KeylimeTpm(tpm);
      AgentDataWriter.write(new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256)), k.ekPublic().toPublicKey(), foreign);
    }
    configure(config().replace(agentData.toString(), foreign.toString()));
    InProcessAttestor.Result r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(r.error().getDescription()).contains("does not load the Keylime AK").contains("ek_handle");
    assertThat(transientHandles()).isEmpty();
  }

  @Test
  void malformedChallengeIsInvalidArgument() throws Exception {
    InProcessAttestor.Result r = spire.attest(p -> "not a challenge".getBytes(StandardCharsets.US_ASCII));
    assertThat(r.error().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(r.error().getDescription()).contains("challenge");
    attestAndVerify(16);
  }

  @Test
  void notConfiguredIsFailedPrecondition() throws Exception {
    try (InProcessAttestor fresh = new InProcessAttestor(new KeylimeAgentPlugin().nodeAttestor())) {
      InProcessAttestor.Result r = fresh.attest(p -> new byte[0]);
      assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    }
  }

  @Test
  void ekFromTheTemplateLoadsTheSameAk() throws Exception {
    configure(config("ek_handle = \"template\""));
    attestAndVerify(16);
    assertThat(transientHandles()).isEmpty();
  }

  @Test
  void uuidFromTheKeylimeAgentConfig() throws Exception {
    Path conf = dir.resolve("agent.conf");
    Files.writeString(conf, "[agent]\n# the agent's id\nversion = \"2.5\"\nuuid = \"" + UUID.toUpperCase() + "\" # fixed\n"
        + "[other]\nuuid = \"ffffffff-ffff-ffff-ffff-ffffffffffff\"\n");
    configure(config().replace("keylime_agent_uuid = \"" + UUID + "\"", "keylime_agent_config = \"" + conf + "\""));
    assertThat(attestAndVerify(16).agentId().value()).isEqualTo(UUID);

    Files.writeString(conf, "[agent]\nuuid = 'hash_ek'\n");
    String ekHash;
    try (var tpm = swtpm.tpm()) {
      ekHash = AgentData.ekHash(new KeylimeTpm(tpm).ekPublic().toPublicKey());
    }
    assertThat(attestAndVerify(16).agentId().value()).isEqualTo(ekHash);

    Files.writeString(conf, "[agent]\nuuid = \"generate\"\n");
    InProcessAttestor.Result r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(r.error().getDescription()).contains("generate");

    Files.writeString(conf, "[agent]\nuuid = \"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\"\n");
    r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(r.error().getDescription()).contains("default");
  }

  @Test
  void anAppKeyPathThatCannotBeUsedIsAFailedPreconditionAboutTheFileNotTheTpm() throws Exception {
    attestAndVerify(16);
    Path file = dir.resolve("keys/app_key.blob");
    Path link = dir.resolve("keys/app_key-link.blob");
    Files.createSymbolicLink(link, file);
    try {
      configure(config().replace(file.toString(), link.toString()));
      InProcessAttestor.Result r = attestExpectingError();
      assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(r.error().getDescription()).contains("app_key_path " + link + " is not a regular file")
          .doesNotContain("check tcti");
    } finally {
      Files.delete(link);
    }
    // a directory not even root may write in (sysfs): the key is made, then cannot be kept
    configure(config().replace(file.toString(), "/sys/app_key.blob"));
    InProcessAttestor.Result r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(r.error().getDescription()).contains("cannot write the App Key to app_key_path /sys/app_key.blob")
        .contains("write access").doesNotContain("TPM");
    assertThat(transientHandles()).isEmpty();
    configure(config());
    attestAndVerify(16);
  }

  @Test
  void anAppKeyBlobOthersCanReadOrAnotherUserOwnsIsRefusedNotRepaired() throws Exception {
    attestAndVerify(16);
    Path file = dir.resolve("keys/app_key.blob");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    InProcessAttestor.Result r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(r.error().getDescription()).contains("app_key_path " + file + " has mode rw-r--r--")
        .contains("chmod 600 " + file);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-r--r--");

    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    Files.setOwner(file, file.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
    r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(r.error().getDescription()).contains("belongs to nobody").contains("chown");
    Files.setOwner(file, file.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("root"));
    attestAndVerify(16);
  }

  @Test
  void anAgentDataFileOthersCanWriteIsRefused() throws Exception {
    Path copy = dir.resolve("agent_data.json");
    Files.copy(agentData, copy);
    Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-rw-rw-"));
    configure(config().replace(agentData.toString(), copy.toString()));
    InProcessAttestor.Result r = attestExpectingError();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(r.error().getDescription()).contains("agent_data_path " + copy + " has mode rw-rw-rw-")
        .contains("chmod go-w " + copy);
    Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
    attestAndVerify(16);
  }
}
