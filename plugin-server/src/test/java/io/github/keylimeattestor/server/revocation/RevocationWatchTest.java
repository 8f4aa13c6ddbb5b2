package io.github.keylimeattestor.server.revocation;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.KeylimeApiException;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.KeylimeMalformedResponseException;
import io.github.keylimeattestor.keylime.KeylimeUnavailableException;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.keylime.VerifierBulkStatus;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The watch's decisions, cycle by cycle. The verifier and SPIRE are in-memory stand-ins here
 * (a unit test cannot run them); RevocationIT runs the same watch against a real Keylime verifier
 * and a real spire-server.
 */
class RevocationWatchTest {
  static final String A = "5f1e6c2a-0000-4000-8000-00000000000a";
  static final String B = "5f1e6c2a-0000-4000-8000-00000000000b";
  static final String C = "5f1e6c2a-0000-4000-8000-00000000000c";

  /** Keylime's answers, set per test; counts the requests. */
  static final class Verifier implements VerifierSource {
    final Map<String, VerifierAgentStatus> agents = new HashMap<>();
    final Map<String, String> unreadable = new HashMap<>();
    KeylimeException failure;
    KeylimeException bulkFailure;
    Error crash;
    final Map<String, KeylimeException> oneFailures = new HashMap<>();
    final List<String> requests = new ArrayList<>();

    @Override
    public VerifierBulkStatus bulk(Optional<String> verifierId) throws KeylimeException {
      requests.add("bulk " + verifierId.orElse("*"));
      if (crash != null) {
        throw crash;
      }
      if (failure != null) {
        throw failure;
      }
      if (bulkFailure != null) {
        throw bulkFailure;
      }
      Map<String, VerifierAgentStatus> m = new HashMap<>();
      agents.forEach((k, v) -> {
        if (verifierId.isEmpty() || v.verifierId().equals(verifierId)) {
          m.put(k, v);
        }
      });
      return new VerifierBulkStatus(m, Map.copyOf(unreadable));
    }

    @Override
    public VerifierAgentStatus one(String uuid) throws KeylimeException {
      requests.add("one " + uuid);
      if (failure != null) {
        throw failure;
      }
      if (oneFailures.containsKey(uuid)) {
        throw oneFailures.get(uuid);
      }
      VerifierAgentStatus s = agents.get(uuid);
      if (s == null) {
        throw new KeylimeApiException("404", URI.create("https://v"), 404, "agent id not found");
      }
      return s;
    }
  }

  /** spire-server's Agent API: records calls; answers NotFound for unknown agents. */
  static final class Spire implements SpireAgents {
    final List<String> calls = new ArrayList<>();
    final List<String> known = new ArrayList<>();
    final List<AttestedNode> listed = new ArrayList<>();
    boolean down;

    @Override
    public Result act(RevocationConfig.Action action, String spiffeId) throws SpireActionException {
      calls.add(action + " " + spiffeId);
      if (down) {
        throw new SpireActionException("spire-server DeleteAgent failed: UNAVAILABLE", null);
      }
      return known.remove(spiffeId) ? Result.DONE : Result.ALREADY_GONE;
    }

    @Override
    public List<AttestedNode> keylimeAgents() throws SpireActionException {
      calls.add("list");
      if (down) {
        throw new SpireActionException("spire-server ListAgents failed: UNAVAILABLE", null);
      }
      return List.copyOf(listed);
    }

    /** What GetAgent answers, by SPIFFE ID (default: the agent as the test attested it, if SPIRE knows it). */
    final Map<String, StoredAgent> stored = new HashMap<>();
    final List<String> gets = new ArrayList<>();

    @Override
    public Optional<StoredAgent> agent(String spiffeId) throws SpireActionException {
      gets.add(spiffeId);
      if (down) {
        throw new SpireActionException("spire-server GetAgent failed: UNAVAILABLE", null);
      }
      if (stored.containsKey(spiffeId)) {
        return Optional.of(stored.get(spiffeId));
      }
      String prefix = "spiffe://example.org/spire/agent/keylime/";
      return known.contains(spiffeId) && spiffeId.startsWith(prefix)
          ? Optional.of(new StoredAgent("keylime", Optional.of(spiffeId.substring(prefix.length()))))
          : Optional.empty();
    }

    @Override
    public void close() {}
  }

  final Verifier verifier = new Verifier();
  final Spire spire = new Spire();
  /** What the watch logs during a test. */
  final java.io.ByteArrayOutputStream log = new java.io.ByteArrayOutputStream();

  @org.junit.jupiter.api.BeforeEach
  void captureLog() {
    io.github.keylimeattestor.sdk.log.Log.redirect(log);
  }

  @org.junit.jupiter.api.AfterEach
  void releaseLog() {
    io.github.keylimeattestor.sdk.log.Log.redirect(System.err);
  }

  RevocationWatch watch(RevocationConfig.Action action, boolean actOnDeleted, boolean bulk) {
    return new RevocationWatch(new RevocationConfig(action, Duration.ofSeconds(2), Path.of("/tmp/none.sock"),
        actOnDeleted, bulk, Duration.ZERO), verifier, spire, new RevocationMetrics(), () -> now);
  }

  RevocationWatch watch() {
    return watch(RevocationConfig.Action.EVICT, true, true);
  }

  static VerifierAgentStatus status(String uuid, OperationalState state, AttestationStatus as, String verifierId) {
    return new VerifierAgentStatus(uuid, Optional.ofNullable(state), Optional.of(as), Optional.of(Instant.now()),
        Optional.of(Instant.now()), 10, Optional.of("sha256"), Optional.of("rsassa"), Optional.of("rsa"),
        Optional.empty(), Optional.empty(), Optional.of(verifierId), Optional.empty(), Optional.empty());
  }

  static String id(String uuid) {
    return "spiffe://example.org/spire/agent/keylime/" + uuid;
  }

  void attest(RevocationWatch w, String uuid, String verifierId) {
    w.attested(new AttestedNode(id(uuid), uuid, Optional.of(verifierId)));
    spire.known.add(id(uuid));
  }

  @Test
  void nothingWatchedNothingAsked() {
    assertThat(watch().cycle().requests()).isZero();
    assertThat(verifier.requests).isEmpty();
  }

  @Test
  void aFailedNodeIsEvictedOnceAndAPassingOneIsLeftAlone() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    attest(w, B, "default");
    verifier.agents.put(A, status(A, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    verifier.agents.put(B, status(B, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    assertThat(w.cycle().acted()).isZero();

    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    RevocationWatch.Cycle c = w.cycle();
    assertThat(c.acted()).isEqualTo(1);
    assertThat(c.requests()).isEqualTo(1);
    assertThat(spire.calls).containsExactly("EVICT " + id(A));
    assertThat(w.watched()).extracting(AttestedNode::uuid).containsExactly(B);

    w.cycle();
    assertThat(spire.calls).hasSize(1);
  }

  @Test
  void everyKeylimeFailureCounts() {
    RevocationWatch w = watch();
    for (OperationalState s : List.of(OperationalState.FAILED, OperationalState.INVALID_QUOTE,
        OperationalState.TENANT_FAILED)) {
      attest(w, A, "default");
      verifier.agents.put(A, status(A, s, AttestationStatus.PENDING, "default"));
      assertThat(w.cycle().acted()).as(s.label()).isEqualTo(1);
    }
    // push mode: no operational state, attestation_status FAIL
    attest(w, A, "default");
    verifier.agents.put(A, status(A, null, AttestationStatus.FAIL, "default"));
    assertThat(w.cycle().acted()).isEqualTo(1);
    // retrying or still pending is not a failure
    for (OperationalState s : List.of(OperationalState.GET_QUOTE_RETRY, OperationalState.START)) {
      attest(w, A, "default");
      verifier.agents.put(A, status(A, s, AttestationStatus.PENDING, "default"));
      assertThat(w.cycle().acted()).as(s.label()).isZero();
    }
  }

  /**
   * Keylime marks a node under attestation Terminated when it is deleted (keylime_tenant -c delete, or
   * -c update of a healthy node), until its record goes: a deletion, which deleted_from_verifier decides.
   */
  @Test
  void terminatedIsADeletionNotAFailure() {
    for (boolean bulk : new boolean[] {true, false}) {
      spire.calls.clear();
      RevocationWatch ignoring = watch(RevocationConfig.Action.EVICT, false, bulk);
      attest(ignoring, A, "default");
      verifier.agents.put(A, status(A, OperationalState.TERMINATED, AttestationStatus.PASS, "default"));
      assertThat(ignoring.cycle().acted()).as("ignore, bulk %s", bulk).isZero();
      assertThat(spire.calls).isEmpty();

      RevocationWatch acting = watch(RevocationConfig.Action.EVICT, true, bulk);
      attest(acting, A, "default");
      assertThat(acting.cycle().acted()).as("act, bulk %s", bulk).isEqualTo(1);
      assertThat(spire.calls).containsExactly("EVICT " + id(A));

      // several nodes deleted at once while the verifier holds none otherwise: the guard holds
      spire.calls.clear();
      RevocationWatch guarded = watch(RevocationConfig.Action.EVICT, true, bulk);
      attest(guarded, A, "default");
      attest(guarded, B, "default");
      verifier.agents.put(B, status(B, OperationalState.TERMINATED, AttestationStatus.PASS, "default"));
      assertThat(guarded.cycle().acted()).as("all terminated, bulk %s", bulk).isZero();
      assertThat(spire.calls).isEmpty();
      verifier.agents.clear();
    }
  }

  /** Missing from its verifier instance's bulk answer because it was enrolled again on another one. */
  @Test
  void aNodeEnrolledAgainOnAnotherVerifierInstanceIsFollowedNotTakenAsDeleted() {
    RevocationWatch w = watch();
    attest(w, A, "verifier-1");
    attest(w, B, "verifier-1");
    verifier.agents.put(A, status(A, OperationalState.GET_QUOTE, AttestationStatus.PASS, "verifier-1"));
    verifier.agents.put(B, status(B, OperationalState.GET_QUOTE, AttestationStatus.PASS, "verifier-2"));
    RevocationWatch.Cycle c = w.cycle();
    assertThat(c.acted()).isZero();
    assertThat(spire.calls).isEmpty();
    assertThat(verifier.requests).containsExactly("bulk verifier-1", "one " + B);
    // from now on asked for under its new instance, and acted on when that one fails it
    verifier.requests.clear();
    verifier.agents.put(B, status(B, OperationalState.FAILED, AttestationStatus.FAIL, "verifier-2"));
    assertThat(w.cycle().acted()).isEqualTo(1);
    assertThat(verifier.requests).containsExactlyInAnyOrder("bulk verifier-1", "bulk verifier-2");
    assertThat(spire.calls).containsExactly("EVICT " + id(B));
    // deleted for real: one request more confirms it, then it is acted on
    verifier.requests.clear();
    verifier.agents.remove(A);
    verifier.agents.put(B, status(B, OperationalState.GET_QUOTE, AttestationStatus.PASS, "verifier-1"));
    attest(w, B, "verifier-1");
    spire.calls.clear();
    assertThat(w.cycle().acted()).isEqualTo(1);
    assertThat(verifier.requests).containsExactly("bulk verifier-1", "one " + A);
    assertThat(spire.calls).containsExactly("EVICT " + id(A));
  }

  /** Per node, a verifier that answers for none of the first three is not waited on for all the others. */
  @Test
  void perNodeAVerifierThatAnswersForNoneOfTheFirstThreeIsUnavailableAtOnce() {
    RevocationWatch w = watch(RevocationConfig.Action.EVICT, true, false);
    for (int i = 0; i < 10; i++) {
      attest(w, String.format("5f1e6c2a-0000-4000-8000-%012d", i), "default");
    }
    verifier.failure = new KeylimeUnavailableException("timed out", URI.create("https://v"), true, null);
    RevocationWatch.Cycle c = w.cycle();
    assertThat(c.verifierUnavailable()).isTrue();
    assertThat(verifier.requests).hasSize(RevocationWatch.UNANSWERED_BEFORE_GIVING_UP).allMatch(r -> r.startsWith("one "));
    assertThat(spire.calls).isEmpty();
  }

  @Test
  void anUnreachableVerifierChangesNothing() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    verifier.failure = new KeylimeUnavailableException("connection refused", URI.create("https://v"), false, null);
    RevocationWatch.Cycle c = w.cycle();
    assertThat(c.verifierUnavailable()).isTrue();
    assertThat(spire.calls).isEmpty();
    assertThat(w.watched()).hasSize(1);

    verifier.failure = null;
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    assertThat(w.cycle().acted()).isEqualTo(1);
  }

  @Test
  void anUnreadableRecordIsMissingDataNotADeletion() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    verifier.unreadable.put(A, "field 'operational_state' has an unknown code 42");
    assertThat(w.cycle().acted()).isZero();
    assertThat(spire.calls).isEmpty();
  }

  @Test
  void aNodeDeletedFromTheVerifierIsEvictedUnlessIgnored() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    assertThat(w.cycle().acted()).isEqualTo(1);

    RevocationWatch ignoring = watch(RevocationConfig.Action.EVICT, false, true);
    attest(ignoring, B, "default");
    assertThat(ignoring.cycle().acted()).isZero();
    assertThat(spire.calls).containsExactly("EVICT " + id(A));
  }

  /** A verifier that holds none of several watched nodes: misconfigured or reset, not a fleet to evict. */
  @Test
  void aVerifierThatHoldsNoneOfSeveralWatchedNodesIsNotTakenAsDeletingThemAll() {
    // the nodes under one verifier instance, or one under each (the guard spans the instances)
    for (String[] instances : new String[][] {{"default", "default"}, {"verifier-1", "verifier-2"}}) {
      for (boolean bulk : new boolean[] {true, false}) {
        String which = String.join("+", instances) + ", bulk " + bulk;
        spire.calls.clear();
        RevocationWatch w = watch(RevocationConfig.Action.EVICT, true, bulk);
        attest(w, A, instances[0]);
        attest(w, B, instances[1]);
        assertThat(w.cycle().acted()).as(which).isZero();
        assertThat(spire.calls).as(which).isEmpty();
        // one of the two gone while the other is listed: that one is acted on
        verifier.agents.put(B, status(B, OperationalState.GET_QUOTE, AttestationStatus.PASS, instances[1]));
        assertThat(w.cycle().acted()).as(which).isEqualTo(1);
        assertThat(spire.calls).as(which).containsExactly("EVICT " + id(A));
        verifier.agents.clear();
      }
    }
  }

  /** A verifier instance retired or rebalanced: its nodes all moved together, and are followed there. */
  @Test
  void nodesThatAllMovedToAnotherVerifierInstanceAreFollowedThere() {
    RevocationWatch w = watch();
    attest(w, A, "verifier-1");
    attest(w, B, "verifier-1");
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "verifier-2"));
    verifier.agents.put(B, status(B, OperationalState.GET_QUOTE, AttestationStatus.PASS, "verifier-2"));
    RevocationWatch.Cycle c = w.cycle();
    assertThat(verifier.requests).containsExactly("bulk verifier-1", "bulk *");
    assertThat(c.acted()).isEqualTo(1);
    assertThat(spire.calls).containsExactly("EVICT " + id(A));
    // and asked for under their new instance from then on
    verifier.requests.clear();
    w.cycle();
    assertThat(verifier.requests).containsExactly("bulk verifier-2");
  }

  /** With action "ban", a node Keylime deleted (routine: `keylime_tenant -c update`) is evicted, a failed one banned. */
  @Test
  void aDeletionIsAnEvictionEvenWhereFailuresAreBanned() {
    RevocationWatch w = watch(RevocationConfig.Action.BAN, true, true);
    attest(w, A, "default");
    attest(w, B, "default");
    verifier.agents.put(B, status(B, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    assertThat(w.cycle().acted()).isEqualTo(2);
    assertThat(spire.calls).containsExactlyInAnyOrder("EVICT " + id(A), "BAN " + id(B));
  }

  /**
   * An agent ID that does not name the UUID ({{ .EKHash }}): the node enrolled again under a new UUID
   * through another server, and the old record's deletion or failure is not the node's.
   */
  @Test
  void anAgentNowAttestingUnderAnotherUuidIsLeftAloneAndFollowed() {
    RevocationWatch w = watch();
    String byEk = "spiffe://example.org/spire/agent/keylime/ek-0123";
    w.attested(new AttestedNode(byEk, A, Optional.of("default")));
    spire.known.add(byEk);
    attest(w, C, "default"); // holds the deletion guard off: the verifier still holds some node
    verifier.agents.put(B, status(B, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    verifier.agents.put(C, status(C, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    // just attested here: the UUID this process saw is the newest, no lookup
    spire.stored.put(byEk, new SpireAgents.StoredAgent("keylime", Optional.of(B)));
    now += RevocationWatch.NOT_STORED_YET.toNanos() + Duration.ofSeconds(1).toNanos();
    RevocationWatch.Cycle c = w.cycle();
    assertThat(spire.gets).containsExactly(byEk);
    assertThat(spire.calls).isEmpty();
    assertThat(c.acted()).isZero();
    assertThat(c.failedToAct()).isZero();
    assertThat(w.watched()).extracting(AttestedNode::uuid).containsExactlyInAnyOrder(B, C);
    // the new UUID's own failure is acted on
    verifier.agents.put(B, status(B, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    assertThat(w.cycle().acted()).isEqualTo(1);
    assertThat(spire.calls).containsExactly("EVICT " + byEk);
  }

  /** Per node: one request that fails (a timeout, a 5xx) holds no other node back. */
  @Test
  void aNodeTheVerifierDoesNotAnswerForHoldsNoOtherBackWhenAskedPerNode() {
    RevocationWatch w = watch(RevocationConfig.Action.EVICT, true, false);
    attest(w, A, "default");
    attest(w, B, "default");
    verifier.oneFailures.put(A, new KeylimeUnavailableException("timed out", URI.create("https://v"), true, null));
    verifier.agents.put(B, status(B, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    RevocationWatch.Cycle c = w.cycle();
    assertThat(c.acted()).isEqualTo(1);
    assertThat(c.verifierUnavailable()).isFalse();
    assertThat(spire.calls).containsExactly("EVICT " + id(B));
    // answering for none: the verifier is unavailable, and nothing is done
    verifier.oneFailures.put(B, new KeylimeUnavailableException("timed out", URI.create("https://v"), true, null));
    attest(w, B, "default");
    spire.calls.clear();
    assertThat(w.cycle().verifierUnavailable()).isTrue();
    assertThat(spire.calls).isEmpty();
  }

  /** Re-attested elsewhere with a new Keylime UUID: the old record's fate is no longer the node's. */
  @Test
  void discoveryFollowsANodeThatReattestedElsewhereUnderAnotherUuid() {
    RevocationWatch w = discovering();
    attest(w, A, "default");
    verifier.agents.put(A, status(A, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    spire.listed.add(new AttestedNode(id(A), B, Optional.empty())); // SPIRE's newer view: same agent ID, UUID B
    verifier.agents.put(B, status(B, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    w.cycle();
    // attested here just now: this process's UUID is the newest and is kept
    assertThat(w.watched()).extracting(AttestedNode::uuid).containsExactly(A);
    now += RevocationWatch.NOT_STORED_YET.toNanos() + Duration.ofSeconds(10).toNanos();
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    w.cycle();
    assertThat(w.watched()).extracting(AttestedNode::uuid).containsExactly(B);
    assertThat(spire.calls).doesNotContain("EVICT " + id(A));
  }

  /** A SPIFFE ID URI cannot parse (a trust domain with '_') reaches SPIRE as it is, and holds no node back. */
  @Test
  void aTrustDomainWithAnUnderscoreIsActedOn() {
    RevocationWatch w = watch();
    String underscored = "spiffe://example_org/spire/agent/keylime/" + A;
    w.attested(new AttestedNode(underscored, A, Optional.of("default")));
    spire.known.add(underscored);
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    assertThat(w.cycle().acted()).isEqualTo(1);
    assertThat(spire.calls).containsExactly("EVICT " + underscored);
    assertThat(SpireAgentApi.spiffeId(underscored).getTrustDomain()).isEqualTo("example_org");
    assertThat(SpireAgentApi.spiffeId(underscored).getPath()).isEqualTo("/spire/agent/keylime/" + A);
  }

  @Test
  void banIsAskedForWhenConfigured() {
    RevocationWatch w = watch(RevocationConfig.Action.BAN, true, true);
    attest(w, A, "default");
    verifier.agents.put(A, status(A, OperationalState.INVALID_QUOTE, AttestationStatus.FAIL, "default"));
    w.cycle();
    assertThat(spire.calls).containsExactly("BAN " + id(A));
  }

  @Test
  void notFoundFromSpireIsSuccessSoSeveralServersMayWatch() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    now += RevocationWatch.NOT_STORED_YET.toNanos();
    spire.known.clear(); // another server evicted it first
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    assertThat(w.cycle().acted()).isEqualTo(1);
    assertThat(w.watched()).isEmpty();
  }

  @Test
  void aNodeThatFailsRightAfterItsAttestationIsActedOnOnceSpireHasStoredIt() {
    RevocationWatch w = watch(RevocationConfig.Action.BAN, true, true);
    w.attested(new AttestedNode(id(A), A, Optional.of("default"))); // SPIRE has not stored it yet
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    RevocationWatch.Cycle c = w.cycle();
    assertThat(c.acted()).isZero();
    assertThat(c.failedToAct()).isEqualTo(1);
    assertThat(w.watched()).extracting(AttestedNode::uuid).containsExactly(A);
    spire.known.add(id(A)); // now it has
    now += Duration.ofSeconds(2).toNanos();
    assertThat(w.cycle().acted()).isEqualTo(1);
    assertThat(spire.calls).containsExactly("BAN " + id(A), "BAN " + id(A));
    assertThat(w.watched()).isEmpty();
  }

  @Test
  void aSpireFailureIsRetriedNextCycle() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    spire.down = true;
    assertThat(w.cycle().failedToAct()).isEqualTo(1);
    assertThat(w.watched()).hasSize(1);
    spire.down = false;
    assertThat(w.cycle().acted()).isEqualTo(1);
    assertThat(spire.calls).hasSize(2);
  }

  /** A refusal that goes on is one ERROR line, again only after REFUSAL_LOG_EVERY or with another error. */
  @Test
  void aSpireRefusalThatGoesOnIsNotLoggedAtErrorEveryCycle() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    spire.down = true;
    for (int i = 0; i < 5; i++) {
      assertThat(w.cycle().failedToAct()).isEqualTo(1);
      now += Duration.ofSeconds(2).toNanos();
    }
    assertThat(errorLines(log)).isEqualTo(1);
    now += RevocationWatch.REFUSAL_LOG_EVERY.toNanos();
    w.cycle();
    assertThat(errorLines(log)).as("a reminder after REFUSAL_LOG_EVERY").isEqualTo(2);
    spire.down = false;
    assertThat(w.cycle().acted()).isEqualTo(1);
  }

  /**
   * A cycle that the watch's close() cuts short (a re-configuration replaces the watch) fails for that
   * reason alone: what it then logs is debug, not an operator's WARN or ERROR. An eviction done is
   * logged as always.
   */
  @Test
  void aCycleCutShortByCloseLogsNoWarningOrError() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    verifier.failure = new io.github.keylimeattestor.keylime.KeylimeUnavailableException("interrupted",
        URI.create("https://v"), false, new InterruptedException());
    w.close();
    w.cycle();
    verifier.failure = null;
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    spire.down = true;
    w.cycle();
    String written = log.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(written).contains("unreachable").contains("could not act on a node");
    assertThat(written.lines().filter(l -> l.contains("\"@level\":\"warn\"") || l.contains("\"@level\":\"error\"")))
        .isEmpty();
    // the same on a watch still open: WARN, then ERROR
    RevocationWatch open = watch();
    attest(open, B, "default");
    verifier.failure = new io.github.keylimeattestor.keylime.KeylimeUnavailableException("down", URI.create("https://v"),
        false, null);
    open.cycle();
    assertThat(log.toString(java.nio.charset.StandardCharsets.UTF_8)).contains("\"@level\":\"warn\"");
  }

  private static long errorLines(java.io.ByteArrayOutputStream log) {
    return log.toString(java.nio.charset.StandardCharsets.UTF_8).lines()
        .filter(l -> l.contains("\"@level\":\"error\"") && l.contains("could not act on a node")).count();
  }

  @Test
  void oneBulkRequestPerVerifierInstance() {
    RevocationWatch w = watch();
    for (int i = 0; i < 50; i++) {
      String u = String.format("5f1e6c2a-0000-4000-8000-%012d", i);
      String v = i % 2 == 0 ? "verifier-1" : "verifier-2";
      attest(w, u, v);
      verifier.agents.put(u, status(u, OperationalState.GET_QUOTE, AttestationStatus.PASS, v));
    }
    assertThat(w.cycle().requests()).isEqualTo(2);
    assertThat(verifier.requests).containsExactlyInAnyOrder("bulk verifier-1", "bulk verifier-2");
  }

  @Test
  void aVerifierWithoutBulkIsAskedPerNode() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    attest(w, B, "default");
    verifier.agents.put(A, status(A, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    verifier.agents.put(B, status(B, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    verifier.bulkFailure = new KeylimeApiException("405", URI.create("https://v"), 405, "method not allowed");
    assertThat(w.cycle().acted()).isEqualTo(1);
    verifier.requests.clear();
    w.cycle();
    assertThat(verifier.requests).containsExactly("one " + A);

    RevocationWatch perNode = watch(RevocationConfig.Action.EVICT, true, false);
    attest(perNode, A, "default");
    verifier.requests.clear();
    perNode.cycle();
    assertThat(verifier.requests).containsExactly("one " + A);
  }

  long now;

  /** Discovery every 10 s on a manual clock ({@link #now}). */
  RevocationWatch discovering() {
    return new RevocationWatch(new RevocationConfig(RevocationConfig.Action.EVICT, Duration.ofSeconds(2),
        Path.of("/tmp/none.sock"), true, true, Duration.ofSeconds(10)), verifier, spire, new RevocationMetrics(),
        () -> now);
  }

  @Test
  void nodesSpireAttestedEarlierOrElsewhereAreWatchedToo() {
    RevocationWatch w = discovering();
    spire.down = true; // spire-server's socket not up yet: nothing lost, tried again next cycle
    assertThat(w.cycle().watched()).isZero();
    spire.down = false;
    spire.listed.add(new AttestedNode(id(A), A, Optional.empty()));
    spire.known.add(id(A));
    verifier.agents.put(A, status(A, OperationalState.GET_QUOTE, AttestationStatus.PASS, "verifier-1"));
    assertThat(w.cycle().watched()).isEqualTo(1);
    assertThat(verifier.requests).containsExactly("bulk *");
    // learnt from the verifier's answer: asked for with its verifier_id from now on
    assertThat(w.watched()).extracting(AttestedNode::verifierId).containsExactly(Optional.of("verifier-1"));
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "verifier-1"));
    assertThat(w.cycle().acted()).isEqualTo(1);
    assertThat(verifier.requests).containsExactly("bulk *", "bulk verifier-1");
    assertThat(spire.calls).containsExactly("list", "list", "EVICT " + id(A));
  }

  @Test
  void aNodeSpireNoLongerListsTwiceInARowIsDropped() {
    RevocationWatch w = discovering();
    attest(w, A, "default");
    attest(w, B, "default");
    spire.listed.add(new AttestedNode(id(B), B, Optional.empty()));
    verifier.agents.put(A, status(A, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    verifier.agents.put(B, status(B, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    w.cycle();
    assertThat(w.watched()).hasSize(2); // missing once: kept (SPIRE may not have stored it yet)
    now += Duration.ofSeconds(5).toNanos();
    w.cycle();
    assertThat(spire.calls).containsExactly("list"); // not due yet
    now += Duration.ofSeconds(5).toNanos();
    w.cycle();
    assertThat(w.watched()).extracting(AttestedNode::uuid).containsExactly(B);
    assertThat(spire.calls).containsExactly("list", "list");
  }

  @Test
  void aRecordThatDoesNotParseHoldsNoOtherNodeBackWhenAskedPerNode() {
    RevocationWatch w = watch(RevocationConfig.Action.EVICT, true, false);
    attest(w, A, "default");
    attest(w, B, "default");
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    verifier.oneFailures.put(B, new KeylimeMalformedResponseException("unknown operational_state 99", URI.create("https://v"),
        null));
    RevocationWatch.Cycle c = w.cycle();
    assertThat(c.acted()).isEqualTo(1);
    assertThat(spire.calls).containsExactly("EVICT " + id(A));
    assertThat(w.watched()).extracting(AttestedNode::uuid).containsExactly(B);
  }

  @Test
  void aBulkAnswerTooLargeForTheHeapIsFollowedByAskingPerNode() {
    RevocationWatch w = watch();
    attest(w, A, "default");
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    verifier.bulkFailure = new KeylimeMalformedResponseException("a response body larger than 16777216 bytes",
        URI.create("https://v"), null, true);
    assertThat(w.cycle().acted()).isEqualTo(1);
    assertThat(verifier.requests).containsExactly("bulk default", "one " + A);
    attest(w, B, "default");
    verifier.agents.put(B, status(B, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    w.cycle();
    assertThat(verifier.requests).containsExactly("bulk default", "one " + A, "one " + B);
  }

  /** Neither an error in a cycle nor one that takes its log line too ends the watch's schedule. */
  @Test
  void anErrorInACycleDoesNotEndTheWatchEvenWhenItsLogLineFailsToo() {
    java.io.OutputStream outOfMemory = new java.io.OutputStream() {
      @Override
      public void write(int b) {
        throw new OutOfMemoryError("no memory for the line either");
      }

      @Override
      public void write(byte[] b, int off, int len) {
        throw new OutOfMemoryError("no memory for the line either");
      }
    };
    for (java.io.OutputStream sink : List.of(log, outOfMemory)) {
      spire.calls.clear();
      RevocationWatch w = watch();
      attest(w, A, "default");
      verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
      verifier.crash = new OutOfMemoryError("Java heap space");
      io.github.keylimeattestor.sdk.log.Log.redirect(sink);
      try {
        w.safeCycle(); // as the scheduler runs it: an escaping throwable would cancel every later run
      } finally {
        io.github.keylimeattestor.sdk.log.Log.redirect(log);
      }
      assertThat(spire.calls).isEmpty();
      verifier.crash = null;
      w.safeCycle();
      assertThat(spire.calls).containsExactly("EVICT " + id(A));
    }
  }

  /**
   * A NodeAttestor block named otherwise: SPIRE lists no "keylime" agent, ever. Dropping the nodes
   * attested here would stop watching them (fail open); the watch keeps them and says why, once.
   */
  @Test
  void aBlockNotNamedKeylimeKeepsTheNodesAttestedHereWatchedAndSaysSo() {
    RevocationWatch w = discovering();
    attest(w, A, "default");
    verifier.agents.put(A, status(A, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    spire.stored.put(id(A), new SpireAgents.StoredAgent("keylime_prod", Optional.of(A)));
    for (int i = 0; i < 4; i++) {
      now += Duration.ofSeconds(30).toNanos();
      w.cycle();
    }
    assertThat(spire.calls.stream().filter("list"::equals)).hasSizeGreaterThanOrEqualTo(3);
    assertThat(w.watched()).extracting(AttestedNode::uuid).containsExactly(A);
    String logged = log.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(logged.lines().filter(l -> l.contains("keylime_prod"))).hasSize(1); // once, not every discovery
    assertThat(logged).contains("name the NodeAttestor block");
    // and Keylime's failure of the node is still acted on
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    now += Duration.ofSeconds(2).toNanos();
    assertThat(w.cycle().acted()).isEqualTo(1);
  }

  /** Evicted elsewhere and listed by nobody: dropped, as before (the agent SPIRE holds is not under another name). */
  @Test
  void nodesNoOneListsAreStillDroppedWhenSpireHoldsThemNoMore() {
    RevocationWatch w = discovering();
    attest(w, A, "default");
    spire.known.clear(); // evicted by another server
    verifier.agents.put(A, status(A, OperationalState.GET_QUOTE, AttestationStatus.PASS, "default"));
    for (int i = 0; i < 4; i++) {
      now += Duration.ofSeconds(30).toNanos();
      w.cycle();
    }
    assertThat(w.watched()).isEmpty();
  }

  @Test
  void aWatchThatAdoptsNodesKeepsWhenTheyAttested() {
    RevocationWatch old = watch();
    attest(old, A, "default");
    now += RevocationWatch.NOT_STORED_YET.toNanos();
    RevocationWatch next = watch();
    next.adopt(old);
    spire.known.clear(); // evicted elsewhere meanwhile: long after its attestation, that is done
    verifier.agents.put(A, status(A, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    assertThat(next.cycle().acted()).isEqualTo(1);
    assertThat(next.watched()).isEmpty();

    // adopted within NOT_STORED_YET of its attestation: NotFound from SPIRE still means "not stored yet"
    RevocationWatch recent = watch();
    attest(recent, B, "default");
    spire.known.clear();
    now += Duration.ofSeconds(10).toNanos();
    RevocationWatch adopting = watch();
    adopting.adopt(recent);
    verifier.agents.put(B, status(B, OperationalState.FAILED, AttestationStatus.FAIL, "default"));
    RevocationWatch.Cycle c = adopting.cycle();
    assertThat(c.failedToAct()).as("kept when B attested, so not taken as gone").isEqualTo(1);
    assertThat(c.acted()).isZero();
  }
}
