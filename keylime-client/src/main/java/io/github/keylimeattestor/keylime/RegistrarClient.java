package io.github.keylimeattestor.keylime;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Reads agent records from a Keylime registrar's TLS port ({@code tls_port}, default 8891). Reading
 * records needs a client certificate the registrar trusts ({@code trusted_client_ca}). Thread-safe;
 * keeps a pool of connections.
 *
 * <p>With a record TTL, {@link #getAgent} answers from a per-agent cache for that long. A record
 * changes only when its agent registers again (new AK, or new EK), so a check that fails against a
 * record may have met a stale one: {@link #newerThan} re-reads it once, and the caller checks again
 * only if it changed.
 */
public final class RegistrarClient {
  /** Registrar API versions this client reads (Keylime 7.x). */
  public static final List<ApiVersion> SUPPORTED_VERSIONS = ApiVersion.range(2, 0, 6);

  /** The record TTL the server plugin uses: short, since a node re-attests far less often. */
  public static final Duration DEFAULT_RECORD_TTL = Duration.ofSeconds(30);

  /** At most this many records are kept; expired ones go first, and beyond it nothing is cached. */
  static final int MAX_CACHED = 1024;

  private record Cached(RegistrarAgent record, long readAt) {}

  private final VersionedClient core;
  private final long ttlNanos;
  private final LongSupplier nanoClock;
  private final Map<String, Cached> cache = new ConcurrentHashMap<>();

  /** No cache: every {@link #getAgent} reads the registrar. */
  public RegistrarClient(ClientSettings settings) {
    this(settings, Duration.ZERO);
  }

  /** Caches each agent's record for {@code recordTtl} ({@link Duration#ZERO}: no cache). */
  public RegistrarClient(ClientSettings settings, Duration recordTtl) {
    this(settings, recordTtl, System::nanoTime);
  }

  RegistrarClient(ClientSettings settings, Duration recordTtl, LongSupplier nanoClock) {
    if (settings.plainHttp()) {
      throw new IllegalArgumentException(
          "the registrar serves agent records only over HTTPS (its tls_port): " + settings.urls());
    }
    if (recordTtl.isNegative()) {
      throw new IllegalArgumentException("record TTL must not be negative: " + recordTtl);
    }
    this.core = new VersionedClient("registrar", settings, SUPPORTED_VERSIONS) {};
    this.ttlNanos = recordTtl.toNanos();
    this.nanoClock = nanoClock;
  }

  /**
   * {@code GET /v2.x/agents/{uuid}}, or the cached record if younger than the TTL. A 404 ({@link
   * KeylimeApiException#isNotFound()}) means the agent is not registered or has not completed
   * activation; errors are never cached.
   */
  public RegistrarAgent getAgent(String agentId) throws KeylimeException {
    String id = VersionedClient.checkAgentId(agentId);
    if (ttlNanos > 0) {
      Cached c = cache.get(id);
      if (c != null && nanoClock.getAsLong() - c.readAt() < ttlNanos) {
        return c.record();
      }
    }
    return read(id);
  }

  /**
   * After a check failed against {@code used}: drops the cached record and, when caching, reads the
   * registrar again; the new record if it differs from {@code used}, else empty (then the failure
   * stands). Without a cache {@code used} was just read, so this reads nothing and is empty.
   */
  public Optional<RegistrarAgent> newerThan(RegistrarAgent used) throws KeylimeException {
    forget(used.agentId());
    if (ttlNanos == 0) {
      return Optional.empty();
    }
    RegistrarAgent fresh = read(used.agentId());
    return fresh.equals(used) ? Optional.empty() : Optional.of(fresh);
  }

  /** Drops the cached record of {@code agentId}, if any. */
  public void forget(String agentId) {
    cache.remove(agentId);
  }

  private RegistrarAgent read(String id) throws KeylimeException {
    long now = nanoClock.getAsLong();
    RegistrarAgent rec = core.call(
        (base, v) -> {
          HttpTransport.Answer a = core.http.get(base, v.pathPrefix() + "/agents/" + id);
          return RegistrarAgent.parse(Fields.results(a, "registrar record of " + id), id);
        });
    if (ttlNanos > 0) {
      if (cache.size() >= MAX_CACHED) {
        cache.values().removeIf(c -> now - c.readAt() >= ttlNanos);
      }
      if (cache.size() < MAX_CACHED || cache.containsKey(id)) {
        cache.put(id, new Cached(rec, now));
      }
    }
    return rec;
  }

  /** The API version used with the first URL (negotiating it if needed). */
  public ApiVersion apiVersion() throws KeylimeException {
    return core.withFailover(core::version);
  }

  /** Requests, TLS connections and full handshakes this client has made ({@link TransportCounts}). */
  public TransportCounts transportCounts() {
    return core.http.counts();
  }
}
