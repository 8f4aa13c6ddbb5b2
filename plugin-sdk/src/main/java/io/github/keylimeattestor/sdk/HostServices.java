package io.github.keylimeattestor.sdk;

import io.github.keylimeattestor.proto.goplugin.ConnInfo;
import io.github.keylimeattestor.proto.spire.hostservice.agentstore.AgentStoreGrpc;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.MetricsGrpc;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Clients for the host services SPIRE offers through the go-plugin broker (service ID 1). The
 * connection is opened on first use, only for services the host named in Init.
 */
public final class HostServices implements AutoCloseable {
  public static final String AGENT_STORE = "spire.hostservice.server.agentstore.v1.AgentStore";
  public static final String METRICS = "spire.hostservice.common.metrics.v1.Metrics";
  static final int HOST_SERVICE_PROVIDER_ID = 1;
  /** go-plugin's own plugin side waits 5 s for the broker's address; so does the first lookup here. */
  static final long FIRST_WAIT_MILLIS = 5_000;

  private static final Log LOG = Log.named("hostservices");

  private final CompletableFuture<ConnInfo> provider;
  private final List<String> offered;
  private final Transport transport;
  private ManagedChannel channel;
  private final long firstWaitMillis;
  // guarded by this
  private long waitUntilNanos; // when the first lookup's wait ends (0: no lookup yet)
  private boolean waitedInVain;
  private boolean unusable;
  private boolean closed;

  HostServices(CompletableFuture<ConnInfo> provider, List<String> offered, Transport transport) {
    this(provider, offered, transport, FIRST_WAIT_MILLIS);
  }

  HostServices(CompletableFuture<ConnInfo> provider, List<String> offered, Transport transport, long firstWaitMillis) {
    this.firstWaitMillis = firstWaitMillis;
    this.provider = provider;
    this.offered = List.copyOf(offered);
    this.transport = transport;
  }

  public List<String> offered() {
    return offered;
  }

  public Optional<MetricsGrpc.MetricsStub> metrics() {
    return channelFor(METRICS).map(HostServices::metricsStub);
  }

  /**
   * A Metrics stub whose calls are fire and forget: each is made in the root context. Made inside a
   * plugin RPC (SPIRE's attestation stream), a call would inherit that RPC's context and be cancelled,
   * unsent, when the RPC ends, which it does right after the plugin's answer. Public for tests that
   * stand in for the host.
   */
  public static MetricsGrpc.MetricsStub metricsStub(Channel channel) {
    return MetricsGrpc.newStub(ClientInterceptors.intercept(channel, IN_ROOT_CONTEXT));
  }

  /** How long a fire-and-forget metrics call may wait for the host: one that never answers holds nothing for long. */
  static final long METRICS_DEADLINE_SECONDS = 10;

  // grpc-java's client call takes its context when it is made (newCall), so making it in the root
  // context detaches it from the caller's; its own deadline bounds it instead.
  private static final ClientInterceptor IN_ROOT_CONTEXT = new ClientInterceptor() {
    @Override
    public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
      Context previous = Context.ROOT.attach();
      try {
        return next.newCall(method, options.getDeadline() != null ? options
            : options.withDeadlineAfter(METRICS_DEADLINE_SECONDS, java.util.concurrent.TimeUnit.SECONDS));
      } finally {
        Context.ROOT.detach(previous);
      }
    }
  };

  public Optional<AgentStoreGrpc.AgentStoreBlockingStub> agentStore() {
    return channelFor(AGENT_STORE).map(AgentStoreGrpc::newBlockingStub);
  }

  private Optional<ManagedChannel> channelFor(String service) {
    if (!offered.contains(service)) {
      return Optional.empty();
    }
    long waitNanos;
    synchronized (this) {
      if (channel != null || unusable || closed) {
        return Optional.ofNullable(channel);
      }
      if (waitUntilNanos == 0) {
        waitUntilNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(firstWaitMillis);
      }
      // a lookup made while the first one still waits (another thread) waits with it, to the same end
      waitNanos = waitedInVain ? 0 : Math.max(0, waitUntilNanos - System.nanoTime());
    }
    // Outside the lock: a Shutdown (close) during the first wait does not wait for it.
    ConnInfo info = brokerAddress(service, waitNanos);
    synchronized (this) {
      if (channel == null && !unusable && !closed && info != null) {
        if (!"unix".equals(info.getNetwork())) {
          LOG.warn("host services offered on an unsupported network; they stay off", "network", info.getNetwork());
          unusable = true;
        } else {
          try {
            channel = transport.dial(info.getAddress());
          } catch (RuntimeException e) {
            // grpc-java makes a target URI of the path and finds no resolver for one it cannot
            // encode (a non-ASCII TMPDIR, say): the plugin runs on without the host's services
            LOG.warn("cannot dial the host services' socket; they stay off (e.g. metrics)", "address",
                info.getAddress(), "error", e.toString());
            unusable = true;
          }
        }
      }
      return Optional.ofNullable(channel);
    }
  }

  /**
   * The host-service address the broker sent, or null. Only lookups within the first one's wait wait
   * for it: the host sends it before Init, so a later lookup would only wait in vain; an address that
   * comes late is still taken by a later lookup (the plugins look up their stubs once, in Init).
   */
  private ConnInfo brokerAddress(String service, long waitNanos) {
    try {
      return waitNanos > 0 ? provider.get(waitNanos, TimeUnit.NANOSECONDS) : provider.getNow(null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (ExecutionException | CompletionException | CancellationException e) {
      LOG.warn("host services unreachable: SPIRE's broker stream ended before it sent their address; they stay off until the plugin restarts",
          "service", service);
      synchronized (this) {
        unusable = true;
      }
      return null;
    } catch (TimeoutException e) {
      synchronized (this) {
        if (waitedInVain) {
          return null; // another lookup that waited with it has said so
        }
        waitedInVain = true;
      }
      LOG.warn("host services unreachable: SPIRE sent no broker address in time; later lookups do not wait for it",
          "service", service, "waited_ms", firstWaitMillis);
      return null;
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (channel != null) {
      channel.shutdownNow();
    }
  }
}
