package io.github.keylimeattestor.server.revocation;

import io.github.keylimeattestor.keylime.KeylimeApiException;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.KeylimeMalformedResponseException;
import io.github.keylimeattestor.keylime.KeylimeTlsException;
import io.github.keylimeattestor.keylime.KeylimeUnavailableException;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.keylime.VerifierBulkStatus;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.sdk.hcl.Durations;
import io.github.keylimeattestor.sdk.log.Log;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Polls the Keylime verifier for the nodes this plugin attested and, when Keylime fails one (or no
 * longer holds it, if so configured), evicts or bans its SPIRE agent through spire-server's Agent
 * API. One bulk request per verifier instance per cycle where the verifier serves it, else one
 * request per node. The watch only calls out; nothing listens.
 *
 * <p>Missing data is never a reason to act: with the verifier unreachable, or a record unreadable,
 * the cycle changes nothing (a warning and a metric). SPIRE answering NotFound counts as done, so
 * several SPIRE servers may each run the watch over the same nodes.
 */
public final class RevocationWatch implements AutoCloseable {
  private static final Log LOG = Log.named("keylime.revocation");
  private static final Duration STARTUP = Duration.ofSeconds(30);

  private final RevocationConfig config;
  private final VerifierSource verifier;
  private final SpireAgents spire;
  private final RevocationMetrics metrics;
  /** By SPIRE agent ID: the latest attestation of each node. */
  private final Map<String, AttestedNode> watched = new ConcurrentHashMap<>();
  /**
   * By SPIRE agent ID: when this process last saw it attest. SPIRE stores an agent only after the
   * plugin's answer, so a NotFound for a node this recent means "not stored yet", not "gone".
   */
  private final Map<String, Long> attestedAt = new ConcurrentHashMap<>();
  static final Duration NOT_STORED_YET = Duration.ofSeconds(60);
  private volatile boolean bulkRefused;
  /** Verifier instances (empty: unfiltered) whose bulk answer was too large for the heap: asked per node. */
  private final java.util.Set<Optional<String>> bulkTooLarge = new java.util.HashSet<>();
  private boolean verifierDown;
  private boolean answerUnusable;
  /** Warned that the verifier holds none of the watched nodes (once, not every cycle). */
  private boolean noneHeldWarned;
  /** Nodes SPIRE could not be made to act on: when it was last logged at ERROR, and with what error. */
  private final Map<String, Refusal> refusals = new java.util.HashMap<>();
  /** A refusal that goes on is logged at ERROR again at most this often (every cycle would flood the log). */
  static final Duration REFUSAL_LOG_EVERY = Duration.ofMinutes(5);

  private record Refusal(String error, long loggedAt) {}
  private final java.util.function.LongSupplier nanoTime;
  private final long started;
  private long nextDiscovery;
  private boolean discoveryFailing;
  private boolean noneListedWarned;
  /** Watched nodes SPIRE's last list did not hold: dropped if the next one does not either. */
  private java.util.Set<String> notListed = java.util.Set.of();
  private ScheduledExecutorService scheduler;

  RevocationWatch(RevocationConfig config, VerifierSource verifier, SpireAgents spire, RevocationMetrics metrics) {
    this(config, verifier, spire, metrics, System::nanoTime);
  }

  RevocationWatch(RevocationConfig config, VerifierSource verifier, SpireAgents spire, RevocationMetrics metrics,
      java.util.function.LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
    this.nextDiscovery = nanoTime.getAsLong();
    this.started = nextDiscovery;
    this.config = config;
    this.verifier = verifier;
    this.spire = spire;
    this.metrics = metrics;
  }

  /** The real thing: the given verifier client, spire-server's admin socket, a poller thread. */
  public static RevocationWatch start(RevocationConfig config, VerifierClient verifier, RevocationMetrics metrics) {
    RevocationWatch w = new RevocationWatch(config, VerifierSource.over(verifier),
        new SpireAgentApi(config.spireServerSocket(), Duration.ofSeconds(5)), metrics);
    w.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "keylime-revocation");
      t.setDaemon(true);
      return t;
    });
    long ms = config.interval().toMillis();
    w.scheduler.scheduleWithFixedDelay(w::safeCycle, ms, ms, TimeUnit.MILLISECONDS);
    LOG.info("revocation watch started", "action", config.action().name().toLowerCase(java.util.Locale.ROOT),
        "interval", Durations.format(config.interval()), "spire_server_socket", config.spireServerSocket().toString(),
        "deleted_from_verifier", config.actOnDeleted() ? "act" : "ignore");
    return w;
  }

  /** Per node: after this many unanswered requests and no answer, the cycle counts the verifier unavailable. */
  static final int UNANSWERED_BEFORE_GIVING_UP = 3;

  /** AttestStream's hook: a node passed attestation; watch it from now on. */
  public void attested(AttestedNode node) {
    watched.put(node.spiffeId(), node);
    attestedAt.put(node.spiffeId(), nanoTime.getAsLong());
  }

  /** Carries the nodes of a watch being replaced (re-configuration) over to this one. */
  public void adopt(RevocationWatch previous) {
    watched.putAll(previous.watched);
    attestedAt.putAll(previous.attestedAt); // when each attested, not now: see NOT_STORED_YET
  }

  Collection<AttestedNode> watched() {
    return List.copyOf(watched.values());
  }

  /**
   * What the verifier said in one cycle, over every verifier instance: the nodes to act on, the nodes
   * it no longer holds, and how many it answered for (held, or known to be absent).
   */
  private static final class Judgement {
    final Map<AttestedNode, String> failed = new LinkedHashMap<>();
    final List<AttestedNode> gone = new ArrayList<>();
    int answered;
    int requests;
  }

  /** What one cycle did. */
  record Cycle(int watched, int requests, int acted, int failedToAct, boolean verifierUnavailable) {}

  void safeCycle() {
    try {
      cycle();
    } catch (RuntimeException | Error e) {
      // neither a bug nor an OutOfMemoryError may end the schedule (a throwable cancels a scheduled
      // task, silently): the next cycle starts afresh, and the failure is logged, if it can be
      try {
        error("revocation cycle failed; the watch goes on next cycle", "error", e);
      } catch (RuntimeException | Error logFailed) {
        // out of memory for the line too: the schedule matters more than the line
      }
    }
  }

  /** One poll of the verifier and the actions it calls for. */
  synchronized Cycle cycle() {
    long t0 = System.nanoTime();
    if (!config.discoveryInterval().isZero() && nanoTime.getAsLong() - nextDiscovery >= 0) {
      discover();
    }
    List<AttestedNode> nodes = List.copyOf(watched.values());
    if (nodes.isEmpty()) {
      metrics.cycle(System.nanoTime() - t0, 0);
      return new Cycle(0, 0, 0, 0, false);
    }
    Map<Optional<String>, List<AttestedNode>> byVerifier = new LinkedHashMap<>();
    for (AttestedNode n : nodes) {
      byVerifier.computeIfAbsent(n.verifierId(), k -> new ArrayList<>()).add(n);
    }
    Judgement j = new Judgement();
    boolean unavailable = false;
    boolean unusable = false;
    for (var group : byVerifier.entrySet()) {
      try {
        judge(group.getKey(), group.getValue(), j);
      } catch (KeylimeUnavailableException | KeylimeTlsException e) {
        unavailable = true;
        verifierUnavailable(e);
      } catch (KeylimeException e) {
        unusable = true;
        answerUnusable(e);
      }
    }
    deleted(j);
    int acted = 0;
    int failedToAct = 0;
    for (var f : j.failed.entrySet()) {
      switch (act(f.getKey(), f.getValue())) {
        case ACTED -> acted++;
        case NOT_YET -> failedToAct++;
        case NOT_THAT_NODE -> { }
      }
    }
    if (!unavailable && verifierDown) {
      verifierDown = false;
      LOG.info("revocation watch: the Keylime verifier answers again");
    }
    if (!unusable && answerUnusable) {
      answerUnusable = false;
      LOG.info("revocation watch: the Keylime verifier's answers are usable again");
    }
    refusals.keySet().retainAll(watched.keySet());
    metrics.cycle(System.nanoTime() - t0, watched.size());
    return new Cycle(nodes.size(), j.requests, acted, failedToAct, unavailable);
  }

  /** Warned once, until an answer is usable again: the same refusal every cycle would flood the log. */
  private void answerUnusable(KeylimeException e) {
    countVerifierUnavailable();
    if (answerUnusable) {
      LOG.debug("revocation watch: the verifier's answer is still unusable", "error", e.getMessage());
      return;
    }
    answerUnusable = true;
    String hint = e instanceof KeylimeApiException api && api.isForbidden()
        ? "; the verifier refused this plugin's client certificate: set verifier_tls (or tls) to one issued by a CA "
            + "in Keylime's trusted_client_ca"
        : "";
    warn("revocation watch: the verifier's answer is unusable; no node is acted on until it is, retrying every "
        + Durations.format(config.interval()) + hint, "error", e.getMessage());
  }

  private void verifierUnavailable(KeylimeException e) {
    countVerifierUnavailable();
    if (!verifierDown) {
      verifierDown = true;
      warn("revocation watch: the Keylime verifier is unreachable; no node is evicted on missing data, "
          + "retrying every " + Durations.format(config.interval()), "error", e.getMessage());
    } else {
      LOG.debug("revocation watch: the Keylime verifier is still unreachable", "error", e.getMessage());
    }
  }

  /**
   * Reads SPIRE's keylime agents: nodes attested before a restart, or through another SPIRE server,
   * are watched too; watched nodes SPIRE no longer lists twice in a row (evicted or banned by
   * someone else) are dropped. Retried every cycle until it works (spire-server opens its socket
   * only after loading its plugins).
   */
  private void discover() {
    List<AttestedNode> listed;
    try {
      listed = spire.keylimeAgents();
    } catch (SpireAgents.SpireActionException e) {
      if (nanoTime.getAsLong() - started < STARTUP.toNanos()) {
        // spire-server opens its API socket only after it has loaded its plugins
        LOG.debug("revocation watch: spire-server's API not up yet", "error", e.getMessage());
      } else if (!discoveryFailing) {
        discoveryFailing = true;
        warn("revocation watch: cannot list SPIRE's keylime agents yet; watching the nodes attested here, "
            + "retrying every cycle", "error", e.getMessage());
      }
      return;
    }
    if (discoveryFailing) {
      discoveryFailing = false;
      LOG.info("revocation watch: listing SPIRE's keylime agents works again");
    }
    nextDiscovery = nanoTime.getAsLong() + config.discoveryInterval().toNanos();
    if (listed.isEmpty() && misnamed()) {
      return; // every node would be dropped: keep watching those attested here
    }
    java.util.Set<String> ids = new java.util.HashSet<>();
    int added = 0;
    for (AttestedNode n : listed) {
      ids.add(n.spiffeId());
      AttestedNode known = watched.putIfAbsent(n.spiffeId(), n);
      if (known == null) {
        added++;
      } else if (!known.uuid().equals(n.uuid()) && !attestedJustNow(n.spiffeId())) {
        // the node re-attested with another Keylime UUID (through another SPIRE server): watching
        // the old UUID would act on the healthy node once Keylime drops or fails that old record
        watched.replace(n.spiffeId(), known, n);
        LOG.info("revocation watch: a node attested elsewhere under another Keylime UUID; watching that one",
            "spiffe_id", n.spiffeId(), "agent_uuid", n.uuid(), "was", known.uuid());
      }
    }
    java.util.Set<String> missing = new java.util.HashSet<>();
    int dropped = 0;
    for (String id : watched.keySet()) {
      if (!ids.contains(id)) {
        missing.add(id);
        if (notListed.contains(id)) {
          watched.remove(id);
          attestedAt.remove(id);
          dropped++;
        }
      }
    }
    notListed = missing;
    if (dropped > 0) {
      warn("revocation watch: no longer watching nodes spire-server does not list as keylime agents (evicted or "
          + "banned elsewhere, or their NodeAttestor is not named \"keylime\")", "dropped", dropped,
          "watched", watched.size());
    }
    if (added > 0) {
      LOG.info("revocation watch: watching keylime agents SPIRE attested earlier or elsewhere", "added", added,
          "watched", watched.size());
    }
  }

  /**
   * SPIRE listing no keylime agent while it holds one this plugin attested, under another attestation
   * type: the NodeAttestor block is not named "keylime", and SPIRE's list (filtered by that name) will
   * never hold these nodes. Checked on one node attested here over a minute ago.
   */
  private boolean misnamed() {
    Optional<String> stored = attestedAt.entrySet().stream()
        .filter(e -> nanoTime.getAsLong() - e.getValue() >= NOT_STORED_YET.toNanos()).map(Map.Entry::getKey).findFirst();
    if (stored.isEmpty()) {
      return false;
    }
    Optional<SpireAgents.StoredAgent> agent;
    try {
      agent = spire.agent(stored.get());
    } catch (SpireAgents.SpireActionException e) {
      return true; // cannot tell: drop nothing this time
    }
    if (agent.isEmpty() || agent.get().attestationType().equals(SpireAgentApi.ATTESTATION_TYPE)) {
      noneListedWarned = false;
      return false;
    }
    if (!noneListedWarned) {
      noneListedWarned = true;
      error("revocation watch: spire-server holds the agents this plugin attested under attestation type \""
          + agent.get().attestationType() + "\", not \"keylime\": name the NodeAttestor block \"keylime\" in "
          + "server.conf (SPIRE types agents and selectors by it); until then only nodes attested here are watched",
          "spiffe_id", stored.get());
    }
    return true;
  }

  /** Whether this process saw the node attest within {@link #NOT_STORED_YET}: its UUID is the newest. */
  private boolean attestedJustNow(String spiffeId) {
    Long at = attestedAt.get(spiffeId);
    return at != null && nanoTime.getAsLong() - at < NOT_STORED_YET.toNanos();
  }

  /**
   * Deleted nodes (gone, or Terminated: the verifier's mark of a node being deleted), unless the
   * verifier holds none of several watched ones it answered for, over all its instances: that is a
   * verifier_urls naming another service, or a verifier whose database was reset or emptied, and
   * acting would evict every node at once. Failures are still acted on; nodes Keylime no longer holds
   * cannot re-attest.
   */
  private void deleted(Judgement j) {
    if (!config.actOnDeleted() || j.gone.isEmpty()) {
      noneHeldWarned = false;
      return;
    }
    if (j.gone.size() == j.answered && j.answered > 1) {
      countVerifierUnavailable();
      if (!noneHeldWarned) { // once until the verifier holds some again, not every cycle
        noneHeldWarned = true;
        warn("revocation watch: the verifier holds none of the watched nodes; not acting on deletions (is "
            + "verifier_urls the verifier's, not the registrar's? was the verifier's database reset?)",
            "watched", j.answered);
      }
      return;
    }
    noneHeldWarned = false;
    for (AttestedNode n : j.gone) {
      j.failed.putIfAbsent(n, "deleted: the verifier no longer holds the node");
    }
  }

  /**
   * Judges the nodes of one verifier instance into {@code j}: one bulk request where the verifier
   * serves one (and its answer fits the heap), else one request per node.
   */
  private void judge(Optional<String> verifierId, List<AttestedNode> nodes, Judgement j) throws KeylimeException {
    if (!config.bulk() || bulkRefused || bulkTooLarge.contains(verifierId)) {
      judgeEach(nodes, j);
      return;
    }
    Optional<VerifierBulkStatus> all = bulk(verifierId, nodes, j);
    if (all.isEmpty()) {
      judgeEach(nodes, j);
      return;
    }
    List<AttestedNode> missing = judgeFrom(all.get(), nodes, j);
    if (missing.isEmpty()) {
      return;
    }
    if (verifierId.isEmpty()) {
      j.gone.addAll(missing);
    } else if (missing.size() == 1 || missing.size() < nodes.size()) {
      // Not under the verifier instance it attested with: deleted, or enrolled again on another
      // instance. One unfiltered request each tells which (deletions are rare).
      for (AttestedNode n : missing) {
        j.requests++;
        try {
          judgeOne(n, verifier.one(n.uuid()), j);
        } catch (KeylimeException e) {
          if (e instanceof KeylimeApiException api && api.isNotFound()) {
            j.gone.add(n);
          } else {
            j.answered--;
            warn("revocation watch: the verifier did not answer for a node missing from its bulk answer; no "
                + "action this cycle", "agent_uuid", n.uuid(), "error", e.getMessage());
          }
        }
      }
    } else {
      // The instance holds none of several: they moved together (an instance retired or rebalanced),
      // or the verifier lost them all. One unfiltered bulk request tells which, and follows the moved.
      j.answered -= missing.size();
      Optional<VerifierBulkStatus> everywhere = bulk(Optional.empty(), missing, j);
      if (everywhere.isEmpty()) {
        judgeEach(missing, j);
      } else {
        j.gone.addAll(judgeFrom(everywhere.get(), missing, j));
      }
    }
  }

  /**
   * One bulk request; empty when the verifier does not serve it (from now on asked per node) or its
   * answer for {@code verifierId} is too large for the heap (that instance asked per node).
   */
  private Optional<VerifierBulkStatus> bulk(Optional<String> verifierId, List<AttestedNode> nodes, Judgement j)
      throws KeylimeException {
    j.requests++;
    try {
      return Optional.of(verifier.bulk(verifierId));
    } catch (KeylimeApiException e) {
      if (e.isNotFound() || e.httpStatus() == 400 || e.httpStatus() == 405) {
        bulkRefused = true;
        LOG.info("revocation watch: the verifier does not serve bulk status; asking per node", "error",
            e.getMessage());
        return Optional.empty();
      }
      throw e;
    } catch (KeylimeMalformedResponseException e) {
      if (!e.isTooLarge()) {
        throw e;
      }
      // only this request's: the nodes learn their verifier instance per node, then move to smaller answers
      bulkTooLarge.add(verifierId);
      warn("revocation watch: the verifier's bulk answer is too large for this plugin's heap; asking per node "
          + "for the nodes of " + verifierId.map(v -> "verifier instance " + v).orElse("no known verifier instance"),
          "watched", nodes.size(), "error", e.getMessage());
      return Optional.empty();
    }
  }

  /** Judges the nodes a bulk answer holds; returns those it does not hold (counted as answered). */
  private List<AttestedNode> judgeFrom(VerifierBulkStatus all, List<AttestedNode> nodes, Judgement j) {
    List<AttestedNode> missing = new ArrayList<>();
    for (AttestedNode n : nodes) {
      VerifierAgentStatus s = all.agents().get(n.uuid());
      if (s != null) {
        j.answered++;
        judgeOne(n, s, j);
      } else if (all.unreadable().containsKey(n.uuid())) {
        warn("revocation watch: the verifier's record of a node is unreadable; no action", "agent_uuid",
            n.uuid(), "error", all.unreadable().get(n.uuid()));
      } else {
        j.answered++;
        missing.add(n);
      }
    }
    return missing;
  }

  /**
   * One request per node. A node the verifier does not answer for is missing data (no action), and
   * holds no other node back; only when it answers for none does the cycle count it unavailable.
   */
  private void judgeEach(List<AttestedNode> nodes, Judgement j) throws KeylimeException {
    KeylimeException unanswered = null;
    int unansweredCount = 0;
    int answered = 0;
    for (AttestedNode n : nodes) {
      if (answered == 0 && unansweredCount == UNANSWERED_BEFORE_GIVING_UP && nodes.size() > unansweredCount) {
        // a verifier that answers for none of the first few would hold the cycle for keylime_timeout per node
        throw unanswered;
      }
      j.requests++;
      try {
        VerifierAgentStatus s = verifier.one(n.uuid());
        answered++;
        j.answered++;
        judgeOne(n, s, j);
      } catch (KeylimeApiException e) {
        if (e.isNotFound()) {
          answered++;
          j.answered++;
          j.gone.add(n);
        } else {
          unansweredCount++;
          unanswered = unanswered == null ? e : unanswered;
        }
      } catch (KeylimeMalformedResponseException e) {
        // as in bulk: one record that does not parse is no reason to act, nor to skip the others
        warn("revocation watch: the verifier's record of a node is unreadable; no action", "agent_uuid",
            n.uuid(), "error", e.getMessage());
      } catch (KeylimeException e) {
        unansweredCount++;
        unanswered = unanswered == null ? e : unanswered;
      }
    }
    if (unanswered != null && unansweredCount == nodes.size()) {
      throw unanswered;
    }
    if (unanswered != null) {
      warn("revocation watch: the verifier did not answer for some nodes; no action for those this cycle",
          "unanswered", unansweredCount, "asked", nodes.size(), "error", unanswered.getMessage());
    }
  }

  /**
   * One node's record: a failure to act on, a node being deleted (Terminated, which Keylime sets on a
   * DELETE of a node under attestation until its record goes: a deletion, so deleted_from_verifier
   * decides), or nothing. Follows a node enrolled again under another verifier instance.
   */
  private void judgeOne(AttestedNode n, VerifierAgentStatus s, Judgement j) {
    if (s.verifierId().isPresent() && !s.verifierId().equals(n.verifierId())) {
      // a node found in SPIRE's list, or enrolled again elsewhere: from now on asked for with this filter
      watched.replace(n.spiffeId(), n, new AttestedNode(n.spiffeId(), n.uuid(), s.verifierId()));
    }
    Optional<String> failure = Verdict.failure(s);
    if (failure.isPresent()) {
      j.failed.put(n, "failed: " + failure.get());
    } else if (Verdict.beingDeleted(s)) {
      j.gone.add(n);
    }
  }

  /**
   * Evicts or bans the node's agent; true when SPIRE has it done (or already had). A node deleted
   * from the verifier is evicted whatever the action: a deletion is routine Keylime administration
   * (`keylime_tenant -c update` deletes and adds again), and an evicted agent attests again only if
   * Keylime attests the node again, while a ban would keep the re-enrolled node out until an
   * operator lifts it.
   */
  private enum Acted { ACTED, NOT_YET, NOT_THAT_NODE }

  private Acted act(AttestedNode n, String why) {
    String reason = why.substring(0, why.indexOf(':'));
    RevocationConfig.Action action = reason.equals("deleted") ? RevocationConfig.Action.EVICT : config.action();
    try {
      if (!stillThatNode(n)) {
        return Acted.NOT_THAT_NODE;
      }
      SpireAgents.Result r = spire.act(action, n.spiffeId());
      Long at = attestedAt.get(n.spiffeId());
      if (r == SpireAgents.Result.ALREADY_GONE && at != null && nanoTime.getAsLong() - at < NOT_STORED_YET.toNanos()) {
        // failed during or right after its own attestation: SPIRE may store it yet; act again next cycle
        warn("revocation watch: SPIRE does not hold this node's agent yet; acting again next cycle", "spiffe_id",
            n.spiffeId(), "agent_uuid", n.uuid(), "why", why);
        return Acted.NOT_YET;
      }
      watched.computeIfPresent(n.spiffeId(), (k, v) -> v.uuid().equals(n.uuid()) ? null : v);
      attestedAt.remove(n.spiffeId());
      refusals.remove(n.spiffeId());
      String result = r == SpireAgents.Result.DONE ? "ok" : "already_gone";
      metrics.action(action, result, reason);
      LOG.warn(action == RevocationConfig.Action.EVICT ? "revocation watch: agent evicted"
              : "revocation watch: agent banned", "spiffe_id", n.spiffeId(), "agent_uuid", n.uuid(), "why", why,
          "result", result);
      return Acted.ACTED;
    } catch (SpireAgents.SpireActionException | RuntimeException e) {
      // one node SPIRE cannot act on (or a bug on its path) holds no other node back
      if (!closed) {
        metrics.action(action, "error", reason);
      }
      String error = e instanceof SpireAgents.SpireActionException ? e.getMessage() : e.toString();
      long now = nanoTime.getAsLong();
      Refusal last = refusals.get(n.spiffeId());
      if (last == null || !last.error().equals(error) || now - last.loggedAt() >= REFUSAL_LOG_EVERY.toNanos()) {
        refusals.put(n.spiffeId(), new Refusal(error, now));
        error("revocation watch: could not act on a node Keylime failed; retrying every cycle (this is logged "
            + "again in " + Durations.format(REFUSAL_LOG_EVERY) + " if it goes on)", "spiffe_id", n.spiffeId(),
            "agent_uuid", n.uuid(), "why", why, "error", error);
      } else {
        LOG.debug("revocation watch: still cannot act on a node Keylime failed", "spiffe_id", n.spiffeId(),
            "error", error);
      }
      return Acted.NOT_YET;
    }
  }

  /**
   * Whether SPIRE's agent of this SPIFFE ID is still the node the verdict is about. An agent ID need
   * not name the Keylime UUID ({@code {{ .EKHash }}}): a node enrolled again under a new UUID, through
   * another SPIRE server, keeps its ID, and this watch learns the new UUID only at its next discovery.
   * So before acting on a node it did not see attest just now, the watch reads the agent's
   * {@code keylime:uuid:} selector; another UUID there means the verdict is about a record the node no
   * longer uses: the watch follows the new UUID and leaves the agent alone. An agent SPIRE does not
   * hold, or a read that fails, is left to {@link SpireAgents#act} (NotFound is done; a failure is
   * retried next cycle).
   */
  private boolean stillThatNode(AttestedNode n) throws SpireAgents.SpireActionException {
    if (attestedJustNow(n.spiffeId())) {
      return true;
    }
    Optional<String> uuid = spire.agent(n.spiffeId()).flatMap(SpireAgents.StoredAgent::keylimeUuid);
    if (uuid.isEmpty() || uuid.get().equals(n.uuid())) {
      return true;
    }
    watched.replace(n.spiffeId(), n, new AttestedNode(n.spiffeId(), uuid.get(), Optional.empty()));
    LOG.info("revocation watch: the agent now attests under another Keylime UUID; not acting on the old one's "
        + "record", "spiffe_id", n.spiffeId(), "agent_uuid", uuid.get(), "was", n.uuid());
    return false;
  }

  /**
   * Set by close(): a cycle it interrupts (a re-configuration replaces the watch) fails its requests
   * and actions for that reason alone, which is no news for the operator.
   */
  private volatile boolean closed;

  /** Not for a cycle that close() cut short: its requests fail for that reason alone. */
  private void countVerifierUnavailable() {
    if (!closed) {
      metrics.verifierUnavailable();
    }
  }

  private void warn(String message, Object... fields) {
    LOG.log(closed ? io.github.keylimeattestor.sdk.log.Level.DEBUG : io.github.keylimeattestor.sdk.log.Level.WARN,
        message, fields);
  }

  private void error(String message, Object... fields) {
    LOG.log(closed ? io.github.keylimeattestor.sdk.log.Level.DEBUG : io.github.keylimeattestor.sdk.log.Level.ERROR,
        message, fields);
  }

  @Override
  public void close() {
    closed = true;
    if (scheduler != null) {
      scheduler.shutdownNow();
    }
    spire.close();
  }

  /**
   * Closes this watch and waits (at most {@code wait}) for a cycle it cut short to end, so that a watch
   * that adopts its nodes then copies what that cycle left (a node it acted on is gone from it).
   */
  public void closeAndWait(Duration wait) {
    close();
    if (scheduler != null) {
      try {
        scheduler.awaitTermination(wait.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
