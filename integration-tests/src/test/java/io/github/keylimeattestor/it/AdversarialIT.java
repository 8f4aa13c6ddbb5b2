package io.github.keylimeattestor.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.keylime.emulator.KeylimeStack;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.Challenge;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.PayloadOrChallengeResponse;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AgentAttributes;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestRequest;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestResponse;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.NodeAttestorGrpc;
import io.github.keylimeattestor.sdk.PluginMain;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Our server plugin executable under attack, driven by a go-plugin host in the test (what SPIRE
 * does, minus SPIRE's own guards, so the plugin's are what is tested). The genuine node is real:
 * swtpm, a Keylime agent emulator registered and enrolled with a real Keylime 7.14.3 registrar and
 * verifier, and our agent plugin executable building its evidence. One Keylime stack for all cases.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AdversarialIT {
  static final String TRUST_DOMAIN = "example.org";
  /** Just under spire-server's own 4 MiB gRPC limit: what an agent can make SPIRE hand the plugin. */
  static final int OVERSIZED = 4 * 1024 * 1024 - 1024;

  final long started = System.nanoTime();
  KeylimeStack stack;
  String uuid;
  Path emulatorDir;
  PluginHost server;
  PluginHost agent;

  @BeforeAll
  void startEverything() throws Exception {
    stack = KeylimeStack.start();
    uuid = UUID.randomUUID().toString();
    emulatorDir = KeylimeFixtures.startEnrolledEmulator(stack, uuid).dir();
    KeylimeFixtures.awaitPass(stack, uuid, "the verifier never said PASS; last: ");
    Path logs = stack.dir.resolve("logs");
    server = PluginHost.start(SpireBinaries.projectFile("plugin-server/target/keylime-attestor-server"),
        logs.resolve("adversarial-server-plugin.log"));
    server.configure(TRUST_DOMAIN, serverData("30s"));
    agent = PluginHost.start(SpireBinaries.projectFile("plugin-agent/target/keylime-attestor-agent"),
        logs.resolve("adversarial-agent-plugin.log"));
    agent.configure(TRUST_DOMAIN, agentData());
    System.err.printf("AdversarialIT: set-up %d s%n", seconds());
  }

  @AfterAll
  void stopEverything() throws Exception {
    try {
      for (PluginHost h : new PluginHost[] {agent, server}) {
        if (h != null) {
          h.close();
        }
      }
    } finally {
      if (stack != null) {
        stack.close();
      }
      System.err.printf("AdversarialIT took %d s%n", seconds());
    }
  }

  long seconds() {
    return (System.nanoTime() - started) / 1_000_000_000L;
  }

  String serverData(String challengeTimeout) {
    return KeylimeFixtures.stackConnection(stack) + """
        ek_ca_bundle = "%s"
        require_ek_cert = true
        challenge_timeout = "%s"
        """.formatted(stack.get("EK_CA_BUNDLE"), challengeTimeout);
  }

  String agentData() {
    return """
        swtpm_address = "127.0.0.1:%s"
        agent_data_path = "%s"
        keylime_agent_uuid = "%s"
        app_key_path = "%s"
        """.formatted(stack.get("SWTPM_PORT"), emulatorDir.resolve("agent_data.json"), uuid,
        stack.dir.resolve("adversarial-app-key.blob"));
  }

  /** What the host's end of one server Attest stream saw. */
  static final class ServerSide implements StreamObserver<AttestResponse> {
    final CompletableFuture<ByteString> challenge = new CompletableFuture<>();
    final CompletableFuture<AgentAttributes> attributes = new CompletableFuture<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<AttestRequest> requests;

    @Override
    public void onNext(AttestResponse r) {
      if (r.hasChallenge()) {
        challenge.complete(r.getChallenge());
      } else {
        attributes.complete(r.getAgentAttributes());
      }
    }

    @Override
    public void onError(Throwable t) {
      Status s = Status.fromThrowable(t);
      ended.complete(s);
      challenge.completeExceptionally(t);
      attributes.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
      attributes.completeExceptionally(new AssertionError("stream completed without agent attributes"));
    }
  }

  ServerSide openServerStream() {
    ServerSide s = new ServerSide();
    s.requests = NodeAttestorGrpc.newStub(server.channel).attest(s);
    return s;
  }

  /**
   * A genuine node's attestation, relayed between the agent plugin's AidAttestation stream and the
   * server plugin's Attest stream as SPIRE relays it: {@link #begin} sends the payload and waits for
   * the challenge; {@link #answer} has the agent plugin answer it.
   */
  final class Genuine implements StreamObserver<PayloadOrChallengeResponse> {
    final CompletableFuture<ByteString> payload = new CompletableFuture<>();
    final CompletableFuture<ByteString> response = new CompletableFuture<>();
    final ServerSide serverSide = openServerStream();
    StreamObserver<Challenge> challenges;

    @Override
    public void onNext(PayloadOrChallengeResponse m) {
      if (m.hasPayload()) {
        payload.complete(m.getPayload());
      } else {
        response.complete(m.getChallengeResponse());
      }
    }

    @Override
    public void onError(Throwable t) {
      payload.completeExceptionally(t);
      response.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {}

    Genuine begin() throws Exception {
      challenges = io.github.keylimeattestor.proto.spire.agent.nodeattestor.NodeAttestorGrpc.newStub(agent.channel)
          .aidAttestation(this);
      serverSide.requests.onNext(AttestRequest.newBuilder().setPayload(payload.get(60, TimeUnit.SECONDS)).build());
      serverSide.challenge.get(60, TimeUnit.SECONDS);
      return this;
    }

    CompletableFuture<AgentAttributes> answer() throws Exception {
      challenges.onNext(Challenge.newBuilder().setChallenge(serverSide.challenge.get()).build());
      return response.thenCompose(r -> {
        serverSide.requests.onNext(AttestRequest.newBuilder().setChallengeResponse(r).build());
        return serverSide.attributes;
      }).whenComplete((a, e) -> {
        challenges.onCompleted();
        serverSide.requests.onCompleted();
      });
    }
  }

  @Test
  @Order(1)
  void fiftyOversizedPayloadsDoNotHurtFourGenuineAttestationsInFlight() throws Exception {
    long t0 = System.nanoTime();
    List<Genuine> genuine = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      genuine.add(new Genuine().begin());
    }
    byte[] big = new byte[OVERSIZED];
    ThreadLocalRandom.current().nextBytes(big);
    ByteString junk = ByteString.copyFrom(big);
    List<ServerSide> flood = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      ServerSide s = openServerStream();
      s.requests.onNext(AttestRequest.newBuilder().setPayload(junk).build());
      flood.add(s);
    }
    // Answered one after another: the agent plugin quotes in that order, and the server refuses a quote
    // whose TPM clock is behind one it has already verified for that AK (as a replay would be).
    for (Genuine g : genuine) {
      AgentAttributes a = g.answer().get(120, TimeUnit.SECONDS);
      assertThat(a.getSpiffeId()).isEqualTo("spiffe://" + TRUST_DOMAIN + "/spire/agent/keylime/" + uuid);
      assertThat(a.getSelectorValuesList()).contains("uuid:" + uuid, "attestation_status:pass");
    }
    for (ServerSide s : flood) {
      Status st = s.ended.get(120, TimeUnit.SECONDS);
      assertThat(st.getCode()).as("oversized payload: %s", st).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(st.getDescription()).contains("exceeds maximum size 65536");
      s.requests.onError(Status.CANCELLED.asException());
    }
    System.err.printf("AdversarialIT: 4 genuine attestations and 50 refused %d-byte payloads in %d ms; "
        + "genuine challenge response %d bytes%n", OVERSIZED, (System.nanoTime() - t0) / 1_000_000,
        genuine.get(0).response.get().size());

    assertThat(server.serving()).as("server plugin still serving").isTrue();
    assertThat(server.logText()).doesNotContain("direct buffer memory").doesNotContain("OutOfMemoryError");
    AgentAttributes again = new Genuine().begin().answer().get(60, TimeUnit.SECONDS);
    assertThat(again.getSpiffeId()).endsWith(uuid);
  }

  /**
   * The message bound alone does not bound memory: 1500 streams of one 64 KiB message each still
   * exhausted the plugin's direct memory (GOAWAY) before the plugin capped concurrent streams.
   */
  @Test
  @Order(2)
  void fifteenHundredPayloadsAtTheBoundDoNotHurtAGenuineAttestationInFlight() throws Exception {
    byte[] big = new byte[64 * 1024 - 64];
    ThreadLocalRandom.current().nextBytes(big);
    ByteString junk = ByteString.copyFrom(big);
    Genuine g = new Genuine().begin();
    long t0 = System.nanoTime();
    List<ServerSide> flood = new ArrayList<>();
    for (int i = 0; i < 1500; i++) {
      ServerSide s = openServerStream();
      s.requests.onNext(AttestRequest.newBuilder().setPayload(junk).build());
      flood.add(s);
    }
    AgentAttributes a = g.answer().get(120, TimeUnit.SECONDS);
    assertThat(a.getSpiffeId()).endsWith(uuid);
    int busy = 0;
    for (ServerSide s : flood) {
      Status st = s.ended.get(120, TimeUnit.SECONDS);
      if (st.getCode() == Status.Code.UNAVAILABLE) {
        // beyond the plugin's 256 calls at once: refused at once, before its payload is read
        assertThat(st.getDescription()).contains("calls at once");
        busy++;
        continue;
      }
      assertThat(st.getCode()).as("payload at the bound: %s", st).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(st.getDescription()).contains("longer than 4096 bytes");
    }
    System.err.printf("AdversarialIT: of 1500 oversized payloads, %d refused as malformed, %d as over the plugin's "
        + "call limit%n", flood.size() - busy, busy);
    System.err.printf("AdversarialIT: 1500 refused %d-byte payloads and a genuine attestation in %d ms%n", big.length + 5,
        (System.nanoTime() - t0) / 1_000_000);
    assertThat(server.serving()).isTrue();
    assertThat(server.logText()).doesNotContain("direct buffer memory");
  }

  @Test
  @Order(3)
  void aStreamThatNeverAnswersIsEndedByThePluginAtChallengeTimeout() throws Exception {
    server.configure(TRUST_DOMAIN, serverData("3s"));
    try {
      Genuine g = new Genuine().begin();
      long challenged = System.nanoTime();
      Status st = g.serverSide.ended.get(30, TimeUnit.SECONDS);
      long ms = (System.nanoTime() - challenged) / 1_000_000;
      System.err.printf("AdversarialIT: unanswered challenge ended after %d ms (challenge_timeout 3s)%n", ms);
      assertThat(st.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(st.getDescription()).contains("sent no answer to the challenge within challenge_timeout (3s)");
      assertThat(ms).isBetween(2_500L, 15_000L);
      g.challenges.onError(Status.CANCELLED.asException());

      ServerSide silent = openServerStream();
      long opened = System.nanoTime();
      Status none = silent.ended.get(30, TimeUnit.SECONDS);
      assertThat(none.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(none.getDescription()).contains("sent no attestation payload");
      assertThat((System.nanoTime() - opened) / 1_000_000).isBetween(2_500L, 15_000L);

      // More silent streams than the plugin's 256 calls at once: those beyond are refused at once
      // (Unavailable: spire-agent tries again), SPIRE's control calls on the same connection still
      // answer (Configure here; Deinit and Shutdown alike) well before the held ones end, and once
      // they are ended at challenge_timeout a genuine node attests.
      server.configure(TRUST_DOMAIN, serverData("15s"));
      // a few more than the plugin's calls, within the connection's streams (272, one the broker's):
      // the client queues none of them, so those beyond the limit are refused at once
      int beyond = 4;
      List<ServerSide> crowd = new ArrayList<>();
      for (int i = 0; i < PluginMain.MAX_CONCURRENT_STREAMS + beyond; i++) {
        crowd.add(openServerStream());
      }
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (crowd.stream().filter(c -> c.ended.isDone()).count() < beyond && System.nanoTime() < until) {
        Thread.sleep(20);
      }
      Thread.sleep(200); // a refusal of one the limit still counted a call just ended for comes now too
      List<Status> refusedAtOnce = crowd.stream().filter(c -> c.ended.isDone()).map(c -> c.ended.join()).toList();
      assertThat(refusedAtOnce).hasSizeGreaterThanOrEqualTo(beyond).allSatisfy(refused -> {
        assertThat(refused.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(refused.getDescription()).contains(PluginMain.MAX_CONCURRENT_STREAMS + " calls at once");
      });
      long c0 = System.nanoTime();
      server.configure(TRUST_DOMAIN, serverData("15s"));
      long configureMs = (System.nanoTime() - c0) / 1_000_000;
      System.err.printf("AdversarialIT: %d refused at once; Configure answered in %d ms while %d silent streams "
          + "held the plugin%n", refusedAtOnce.size(), configureMs, crowd.size() - refusedAtOnce.size());
      assertThat(configureMs).as("Configure behind held streams, which last 15 s").isLessThan(7_500L);
      assertThat(crowd.stream().filter(c -> c.ended.isDone()).count()).as("the held ones still held")
          .isEqualTo(refusedAtOnce.size());
      for (ServerSide c : crowd) {
        assertThat(c.ended.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      }
      long t = System.nanoTime();
      AgentAttributes a = new Genuine().begin().answer().get(60, TimeUnit.SECONDS);
      System.err.printf("AdversarialIT: a genuine attestation after the silent streams took %d ms%n",
          (System.nanoTime() - t) / 1_000_000);
      assertThat(a.getSpiffeId()).endsWith(uuid);
    } finally {
      server.configure(TRUST_DOMAIN, serverData("30s"));
    }
  }

  @Test
  @Order(4)
  void aHalfCloseBeforeTheAnswerGetsInvalidArgument() throws Exception {
    Genuine g = new Genuine().begin();
    g.serverSide.requests.onCompleted();
    Status st = g.serverSide.ended.get(10, TimeUnit.SECONDS);
    assertThat(st.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(st.getDescription()).contains("closed its side of the stream before answering the challenge");
    g.challenges.onError(Status.CANCELLED.asException());
    assertThat(server.serving()).isTrue();
  }

  @Test
  @Order(5)
  void spireServerValidateListsEveryProblemOfABadConfigurationAsANote() throws Exception {
    String bad = serverData("30s").replace(stack.get("REGISTRAR_URL"), "https://bad host:8891")
        .replace("verifier_urls", "verifier_url").replace(stack.get("SPIRE_CLIENT_KEY"), "/nonexistent/client.key");
    Path exe = SpireBinaries.projectFile("plugin-server/target/keylime-attestor-server");
    try (SpireTestbed bed = new SpireTestbed()) {
      bed.writeServerConf("", """
            NodeAttestor "keylime" {
              plugin_cmd = "%s"
              plugin_data {
          %s
              }
            }
          """.formatted(exe, bad), "");
      Process p = bed.cli(List.of(SpireBinaries.server().toString(), "validate", "-config", "server.conf")).start();
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      System.err.println("AdversarialIT: spire-server validate said:\n" + out);
      assertThat(p.exitValue()).isNotZero();
      assertThat(out).contains("NodeAttestor \"keylime\"")
          .contains("tls.client_key: no such file /nonexistent/client.key")
          .contains("https://bad host:8891").contains("is not a URL (Illegal character in authority)")
          .contains("verifier_urls is required").contains("verifier_url is set: is it a misspelling?")
          .contains("unknown setting verifier_url: did you mean verifier_urls?")
          .doesNotContain("Internal").doesNotContain("IllegalArgumentException");
    }
  }
}
