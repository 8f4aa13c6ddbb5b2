package io.github.keylimeattestor.server.revocation;

import io.github.keylimeattestor.proto.spire.api.server.agent.AgentGrpc;
import io.github.keylimeattestor.proto.spire.api.server.agent.BanAgentRequest;
import com.google.protobuf.BoolValue;
import io.github.keylimeattestor.proto.spire.api.server.agent.DeleteAgentRequest;
import io.github.keylimeattestor.proto.spire.api.server.agent.GetAgentRequest;
import io.github.keylimeattestor.proto.spire.api.server.agent.ListAgentsRequest;
import io.github.keylimeattestor.proto.spire.api.server.agent.ListAgentsResponse;
import io.github.keylimeattestor.proto.spire.api.types.Agent;
import io.github.keylimeattestor.proto.spire.api.types.AgentMask;
import io.github.keylimeattestor.proto.spire.api.types.SPIFFEID;
import io.github.keylimeattestor.proto.spire.api.types.Selector;
import io.github.keylimeattestor.sdk.hcl.Durations;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.github.keylimeattestor.sdk.UnixSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * SPIRE server's Agent API (ListAgents, GetAgent, DeleteAgent, BanAgent) on its admin Unix socket. spire-server treats a
 * caller on that socket as a local administrator (no client certificate), so the plugin, a child of
 * spire-server running as its user, may call it. The channel connects on first use.
 */
final class SpireAgentApi implements SpireAgents {
  /** SPIRE's attestation type and selector type for this plugin: its name in server.conf. */
  static final String ATTESTATION_TYPE = "keylime";
  /**
   * Agents per ListAgents page: each carries its selectors (a few KB with many allow-listed PCRs or
   * meta keys), and a page must stay within gRPC's 4 MiB inbound message limit.
   */
  private static final int PAGE_SIZE = 200;

  private final Path socket;
  private final Duration deadline;
  private final UnixSocketChannel channel;
  private final AgentGrpc.AgentBlockingStub stub;

  SpireAgentApi(Path socket, Duration deadline) {
    this.socket = socket;
    this.deadline = deadline;
    this.channel = new UnixSocketChannel(socket, "spire-agent-api");
    this.stub = AgentGrpc.newBlockingStub(channel.channel());
  }

  @Override
  public Result act(RevocationConfig.Action action, String spiffeId) throws SpireActionException {
    SPIFFEID id = spiffeId(spiffeId);
    AgentGrpc.AgentBlockingStub s = stub.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
    try {
      switch (action) {
        case EVICT -> s.deleteAgent(DeleteAgentRequest.newBuilder().setId(id).build());
        case BAN -> s.banAgent(BanAgentRequest.newBuilder().setId(id).build());
      }
      return Result.DONE;
    } catch (StatusRuntimeException e) {
      Status.Code code = e.getStatus().getCode();
      if (code == Status.Code.NOT_FOUND) {
        return Result.ALREADY_GONE;
      }
      throw failure(action == RevocationConfig.Action.EVICT ? "DeleteAgent" : "BanAgent", spiffeId, e);
    }
  }

  @Override
  public List<AttestedNode> keylimeAgents() throws SpireActionException {
    List<AttestedNode> out = new ArrayList<>();
    ListAgentsRequest.Builder req = ListAgentsRequest.newBuilder()
        .setFilter(ListAgentsRequest.Filter.newBuilder().setByAttestationType(ATTESTATION_TYPE)
            .setByBanned(BoolValue.of(false)))
        .setOutputMask(AgentMask.newBuilder().setSelectors(true))
        .setPageSize(PAGE_SIZE);
    String token = "";
    do {
      ListAgentsResponse page;
      try {
        page = stub.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).listAgents(req.setPageToken(token)
            .build());
      } catch (StatusRuntimeException e) {
        throw failure("ListAgents", "the keylime agents", e);
      }
      for (Agent a : page.getAgentsList()) {
        keylimeUuid(a, ATTESTATION_TYPE).ifPresent(uuid -> out.add(new AttestedNode(
            "spiffe://" + a.getId().getTrustDomain() + a.getId().getPath(), uuid, Optional.empty())));
      }
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    return out;
  }

  @Override
  public Optional<StoredAgent> agent(String spiffeId) throws SpireActionException {
    Agent a;
    try {
      a = stub.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).getAgent(GetAgentRequest.newBuilder()
          .setId(spiffeId(spiffeId)).setOutputMask(AgentMask.newBuilder().setAttestationType(true).setSelectors(true))
          .build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return Optional.empty();
      }
      throw failure("GetAgent", spiffeId, e);
    }
    return Optional.of(new StoredAgent(a.getAttestationType(), keylimeUuid(a, a.getAttestationType())));
  }

  /** The Keylime UUID of the agent's {@code <type>:uuid:} selector. */
  private static Optional<String> keylimeUuid(Agent a, String type) {
    for (Selector sel : a.getSelectorsList()) {
      if (sel.getType().equals(type) && sel.getValue().startsWith("uuid:")) {
        return Optional.of(sel.getValue().substring("uuid:".length()));
      }
    }
    return Optional.empty();
  }

  private SpireActionException failure(String call, String what, StatusRuntimeException e) {
    Status.Code code = e.getStatus().getCode();
    String hint = switch (code) {
      case UNAVAILABLE -> "; is revocation.spire_server_socket (" + socket
          + ") spire-server's socket_path, and is spire-server running?";
      case PERMISSION_DENIED, UNAUTHENTICATED -> "; spire-server must accept this plugin's user on its admin socket";
      case DEADLINE_EXCEEDED -> "; spire-server did not answer within " + Durations.format(deadline);
      default -> "";
    };
    return new SpireActionException("spire-server " + call + " for " + what + " failed: " + code
        + (e.getStatus().getDescription() == null ? "" : " " + e.getStatus().getDescription()) + hint, e);
  }

  /** {@code spiffe://td/path} as SPIRE's SPIFFEID message. */
  static SPIFFEID spiffeId(String id) {
    return io.github.keylimeattestor.server.SpiffeIds.toMessage(id);
  }

  @Override
  public void close() {
    channel.close();
  }
}
