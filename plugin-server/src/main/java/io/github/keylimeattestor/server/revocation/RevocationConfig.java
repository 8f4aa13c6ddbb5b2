package io.github.keylimeattestor.server.revocation;

import io.github.keylimeattestor.sdk.hcl.Durations;
import io.github.keylimeattestor.sdk.hcl.HclConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * The {@code revocation { ... }} block of the server plugin's {@code plugin_data}: while present,
 * the plugin polls the Keylime verifier for the nodes it attested and acts on SPIRE when Keylime
 * fails one.
 *
 * @param action what is done to the SPIRE agent of a failed node
 * @param interval pause between two polls of the verifier
 * @param spireServerSocket spire-server's admin API socket ({@code socket_path} in server.conf)
 * @param actOnDeleted whether a node the verifier no longer holds counts as failed
 * @param bulk whether to ask the verifier for all agents in one request (else one request per node)
 * @param discoveryInterval how often to read SPIRE's list of keylime agents, so that nodes attested
 *     before a restart or by another SPIRE server are watched too (zero: only nodes attested here)
 */
public record RevocationConfig(Action action, Duration interval, Path spireServerSocket, boolean actOnDeleted,
    boolean bulk, Duration discoveryInterval) {

  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(2);
  public static final Duration DEFAULT_DISCOVERY_INTERVAL = Duration.ofMinutes(1);
  public static final String DEFAULT_SOCKET = "/tmp/spire-server/private/api.sock";

  /** What the watch does to the SPIRE agent of a node Keylime failed. */
  public enum Action {
    /** DeleteAgent: the agent is cut off at once and may re-attest (which Keylime's verdict then refuses). */
    EVICT,
    /** BanAgent: the node cannot attest again until an operator lifts the ban (spire-server agent evict). */
    BAN
  }

  /**
   * Reads the block; empty when {@code plugin_data} has no {@code revocation} block. Problems are
   * recorded on {@code pluginData} (reported with all others by its {@code throwIfProblems}).
   */
  public static Optional<RevocationConfig> parse(HclConfig pluginData) {
    if (!pluginData.has("revocation")) {
      return Optional.empty();
    }
    HclConfig r = pluginData.block("revocation");
    String actionName = r.optString("action", "evict").toLowerCase(Locale.ROOT);
    Action action = switch (actionName) {
      case "evict" -> Action.EVICT;
      case "ban" -> Action.BAN;
      default -> {
        r.problem(r.name("action") + " must be \"evict\" (the agent may re-attest once Keylime passes the node "
            + "again) or \"ban\" (an operator must lift it), not \"" + actionName + "\"");
        yield Action.EVICT;
      }
    };
    Duration interval = r.optDuration("interval", DEFAULT_INTERVAL);
    if (interval.compareTo(Duration.ofMillis(500)) < 0 || interval.compareTo(Duration.ofMinutes(10)) > 0) {
      r.problem(r.name("interval") + " must be between 500ms and 10m (default 2s), not " + Durations.format(interval));
      interval = DEFAULT_INTERVAL;
    }
    String socket = r.optString("spire_server_socket", DEFAULT_SOCKET);
    if (!socket.startsWith("/")) {
      r.problem(r.name("spire_server_socket") + " must be an absolute path (spire-server's socket_path), not '"
          + socket + "'");
      socket = DEFAULT_SOCKET;
    }
    String deleted = r.optString("deleted_from_verifier", "act").toLowerCase(Locale.ROOT);
    boolean actOnDeleted = !deleted.equals("ignore");
    if (!deleted.equals("act") && !deleted.equals("ignore")) {
      r.problem(r.name("deleted_from_verifier") + " must be \"act\" (a node Keylime no longer attests loses its "
          + "SPIRE agent) or \"ignore\", not \"" + deleted + "\"");
    }
    boolean bulk = r.optBool("bulk", true);
    Duration discovery = r.optDuration("discovery_interval", DEFAULT_DISCOVERY_INTERVAL);
    if (discovery.isNegative() || (!discovery.isZero() && discovery.compareTo(interval) < 0)) {
      r.problem(r.name("discovery_interval") + " must be at least revocation.interval (" + Durations.format(interval)
          + "), or \"0s\" to watch only the nodes this server attests; not " + Durations.format(discovery));
    }
    r.rejectUnknownKeys();
    return Optional.of(new RevocationConfig(action, interval, Path.of(socket), actOnDeleted, bulk, discovery));
  }
}
