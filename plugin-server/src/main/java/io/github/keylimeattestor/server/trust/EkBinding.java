package io.github.keylimeattestor.server.trust;

import io.github.keylimeattestor.proto.spire.api.server.agent.AgentGrpc;
import io.github.keylimeattestor.proto.spire.api.server.agent.GetAgentRequest;
import io.github.keylimeattestor.proto.spire.api.server.agent.ListAgentsRequest;
import io.github.keylimeattestor.proto.spire.api.server.agent.ListAgentsResponse;
import io.github.keylimeattestor.proto.spire.api.types.Agent;
import io.github.keylimeattestor.proto.spire.api.types.AgentMask;
import io.github.keylimeattestor.proto.spire.api.types.SPIFFEID;
import io.github.keylimeattestor.proto.spire.api.types.Selector;
import io.github.keylimeattestor.proto.spire.api.types.SelectorMatch;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.github.keylimeattestor.sdk.UnixSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * One TPM, one agent ID (ek_binding): before an agent ID is issued, spire-server's Agent API (its
 * admin socket) is asked what it already holds.
 *
 * <ul>
 *   <li>GetAgent(id): if that ID attested before, its stored {@code keylime:ek_hash:} selector must
 *       be this node's EK hash; else the ID would pass to another TPM (a registrar record replaced
 *       under a tenant-chosen UUID).
 *   <li>ListAgents(selector {@code keylime:ek_hash:<hash>}, banned or not): no other agent ID may hold
 *       this EK; else one TPM would hold two identities (two Keylime UUIDs on one TPM), or a banned
 *       node would come back under a new UUID.
 * </ul>
 *
 * Either refusal is PermissionDenied and names the {@code spire-server agent evict} that lifts it:
 * only the operator moves an ID to another TPM. SPIRE's AgentStore host service cannot do this: its
 * GetAgentInfo answers only whether an ID exists (AgentInfo has agent_id alone), not its selectors.
 * An agent ID template with {@code {{ .EKHash }}} binds the ID to the EK by construction and needs
 * none of this.
 *
 * <p>SPIRE stores an agent only after the plugin has answered, so two attestations at once (two
 * UUIDs of one TPM, or one ID from two TPMs) would both find nothing. An ID issued for the first
 * time is therefore held with its EK hash, in this process, for {@link #HOLD}: a new pair that
 * shares either half with it is Unavailable until SPIRE's records can answer. Two spire-server
 * instances (HA) do not share this hold.
 */
public final class EkBinding implements AutoCloseable {
  static final String SELECTOR_TYPE = "keylime";
  static final String EK_PREFIX = "ek_hash:";

  /** The Agent API calls this needs; the real one is {@link #open}. */
  interface AgentApi extends AutoCloseable {
    /** Empty if spire-server holds no agent with this ID. */
    Optional<Agent> get(SPIFFEID id) throws StatusRuntimeException;

    /** Every agent (banned too) with this selector. */
    List<Agent> withSelector(Selector s) throws StatusRuntimeException;

    @Override
    void close();
  }

  /** Long enough for SPIRE to store the agent after the plugin's answer (it signs and writes at once). */
  static final Duration HOLD = Duration.ofSeconds(30);

  private final AgentApi api;
  private final Path socket;
  private final LongSupplier nanoTime;
  /** EK hash -> the ID it was checked for, and ID -> its EK hash, each with when the hold ends. */
  private final Map<String, Held> heldByEk = new HashMap<>();
  private final Map<String, Held> heldById = new HashMap<>();

  private record Held(String other, long untilNanos) {}

  EkBinding(AgentApi api, Path socket) {
    this(api, socket, System::nanoTime);
  }

  EkBinding(AgentApi api, Path socket, LongSupplier nanoTime) {
    this.api = api;
    this.socket = socket;
    this.nanoTime = nanoTime;
  }

  /** Over spire-server's admin socket; connects on first use. */
  public static EkBinding open(Path socket, Duration deadline) {
    return new EkBinding(new SocketApi(socket, deadline), socket);
  }

  public Path socket() {
    return socket;
  }

  /** Refuses {@code spiffeId} for the EK hash {@code ekHash} unless SPIRE's records agree. */
  public void check(String spiffeId, String ekHash) throws StatusException {
    if (!checkRecords(spiffeId, ekHash)) {
      holdNew(spiffeId, ekHash);
    }
  }

  /**
   * Holds a pair SPIRE does not know yet, or refuses it if either half is held with another: checked
   * after SPIRE's records, so that what SPIRE already stores gets its definitive answer there.
   */
  private synchronized void holdNew(String spiffeId, String ekHash) throws StatusException {
    long now = nanoTime.getAsLong();
    heldByEk.values().removeIf(h -> h.untilNanos() - now <= 0);
    heldById.values().removeIf(h -> h.untilNanos() - now <= 0);
    Held byEk = heldByEk.get(ekHash);
    Held byId = heldById.get(spiffeId);
    if (byEk != null && !byEk.other().equals(spiffeId)) {
      throw Status.UNAVAILABLE.withDescription("this node's TPM (EK hash " + ekHash + ") was just issued agent ID "
          + byEk.other() + ", which spire-server may not have stored yet; ek_binding gives one TPM one agent ID, so "
          + spiffeId + " waits (two Keylime UUIDs on one TPM attesting at once?)").asException();
    }
    if (byId != null && !byId.other().equals(ekHash)) {
      throw Status.UNAVAILABLE.withDescription("agent ID " + spiffeId + " was just issued to another TPM (EK hash "
          + byId.other() + "), this node's EK hash is " + ekHash + "; ek_binding keeps an agent ID on one TPM, so this "
          + "attestation waits (two nodes under one Keylime UUID attesting at once?)").asException();
    }
    long until = now + HOLD.toNanos();
    heldByEk.put(ekHash, new Held(spiffeId, until));
    heldById.put(spiffeId, new Held(ekHash, until));
  }

  /**
   * SPIRE's records show {@code id} stored: the hold that covered its storing ends, and the records
   * answer for it and its EK from now on (so an operator's evict takes effect at once, not after the hold).
   */
  private synchronized void stored(String id) {
    Held h = heldById.remove(id);
    if (h != null) {
      heldByEk.computeIfPresent(h.other(), (ek, held) -> held.other().equals(id) ? null : held);
    }
  }

  /** SPIRE's records' answer; true if SPIRE already holds {@code spiffeId} with this EK. */
  private boolean checkRecords(String spiffeId, String ekHash) throws StatusException {
    try {
      Optional<Agent> existing = api.get(spiffeId(spiffeId));
      if (existing.isPresent()) {
        stored(spiffeId);
        List<String> stored = ekHashes(existing.get());
        Optional<String> otherType = stored.isEmpty() ? ekHashSelectorTypeOtherThanOurs(existing.get()) : Optional.empty();
        if (otherType.isPresent()) {
          throw Status.FAILED_PRECONDITION.withDescription("agent ID " + spiffeId + " holds its EK hash as selector type '"
              + otherType.get() + "', not '" + SELECTOR_TYPE + "': spire-server names a NodeAttestor's selectors after its "
              + "plugin block, and ek_binding looks them up as '" + SELECTOR_TYPE + "', so it cannot tell one TPM's agent "
              + "IDs apart; name the block NodeAttestor \"" + SELECTOR_TYPE + "\" in server.conf and agent.conf").asException();
        }
        if (!stored.contains(ekHash)) {
          throw Status.PERMISSION_DENIED.withDescription("agent ID " + spiffeId + " was attested with "
              + (stored.isEmpty() ? "no keylime:ek_hash selector" : "EK hash " + String.join(", ", stored))
              + ", this node's EK hash is " + ekHash + " (another TPM under the same Keylime UUID: a replaced "
              + "registrar record?); ek_binding keeps an agent ID on its TPM. If this node's TPM was really replaced, "
              + "evict the old agent first: spire-server agent evict -spiffeID " + spiffeId).asException();
        }
      }
      for (Agent other : api.withSelector(Selector.newBuilder().setType(SELECTOR_TYPE).setValue(EK_PREFIX + ekHash)
          .build())) {
        String otherId = "spiffe://" + other.getId().getTrustDomain() + other.getId().getPath();
        stored(otherId);
        if (!otherId.equals(spiffeId)) {
          throw Status.PERMISSION_DENIED.withDescription("this node's TPM (EK hash " + ekHash + ") already holds agent "
              + "ID " + otherId + (other.getBanned() ? " (banned)" : "") + "; ek_binding gives one TPM one agent ID, so "
              + spiffeId + " is not issued (two Keylime UUIDs on one TPM?). To move the TPM to the new ID, evict the "
              + "old one: spire-server agent evict -spiffeID " + otherId).asException();
        }
      }
      return existing.isPresent();
    } catch (StatusRuntimeException e) {
      throw Status.UNAVAILABLE.withDescription("ek_binding: cannot read spire-server's agents on " + socket + ": "
          + e.getStatus().getCode() + (e.getStatus().getDescription() == null ? "" : " "
          + e.getStatus().getDescription()) + "; is ek_binding.spire_server_socket spire-server's socket_path?")
          .asException();
    }
  }

  static List<String> ekHashes(Agent a) {
    List<String> out = new ArrayList<>();
    for (Selector s : a.getSelectorsList()) {
      if (s.getType().equals(SELECTOR_TYPE) && s.getValue().startsWith(EK_PREFIX)) {
        out.add(s.getValue().substring(EK_PREFIX.length()));
      }
    }
    return out;
  }

  /** The type of an {@code ek_hash:} selector of {@code a} under another plugin name than ours, if any. */
  static Optional<String> ekHashSelectorTypeOtherThanOurs(Agent a) {
    return a.getSelectorsList().stream()
        .filter(s -> !s.getType().equals(SELECTOR_TYPE) && s.getValue().matches("ek_hash:[0-9a-f]{64}"))
        .map(Selector::getType).findFirst();
  }

  static SPIFFEID spiffeId(String id) {
    return io.github.keylimeattestor.server.SpiffeIds.toMessage(id);
  }

  @Override
  public void close() {
    api.close();
  }

  /** The Agent API on spire-server's admin Unix socket (a local administrator there, as the revocation watch). */
  private static final class SocketApi implements AgentApi {
    private final Duration deadline;
    private final UnixSocketChannel channel;
    private final AgentGrpc.AgentBlockingStub stub;

    SocketApi(Path socket, Duration deadline) {
      this.deadline = deadline;
      this.channel = new UnixSocketChannel(socket, "spire-agent-api-ek-binding");
      this.stub = AgentGrpc.newBlockingStub(channel.channel());
    }

    private AgentGrpc.AgentBlockingStub stub() {
      return stub.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public Optional<Agent> get(SPIFFEID id) {
      try {
        return Optional.of(stub().getAgent(GetAgentRequest.newBuilder().setId(id)
            .setOutputMask(AgentMask.newBuilder().setSelectors(true).setBanned(true)).build()));
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
          return Optional.empty();
        }
        throw e;
      }
    }

    @Override
    public List<Agent> withSelector(Selector s) {
      List<Agent> out = new ArrayList<>();
      ListAgentsRequest.Builder req = ListAgentsRequest.newBuilder()
          .setFilter(ListAgentsRequest.Filter.newBuilder().setBySelectorMatch(SelectorMatch.newBuilder()
              .addSelectors(s).setMatch(SelectorMatch.MatchBehavior.MATCH_SUPERSET)))
          .setOutputMask(AgentMask.newBuilder().setBanned(true)).setPageSize(100);
      String token = "";
      do {
        ListAgentsResponse page = stub().listAgents(req.setPageToken(token).build());
        out.addAll(page.getAgentsList());
        token = page.getNextPageToken();
      } while (!token.isEmpty());
      return out;
    }

    @Override
    public void close() {
      channel.close();
    }
  }
}
