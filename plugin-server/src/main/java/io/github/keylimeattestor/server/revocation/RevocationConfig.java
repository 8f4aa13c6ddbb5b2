package io.github.keylimeattestor.server.revocation;

import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

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

  /** Reads the block; empty when {@code plugin_data} has no {@code revocation} block. */
  public static java.util.Optional<RevocationConfig> parse(HclConfig pluginData) throws HclException {
    if (!pluginData.has("revocation")) {
      return java.util.Optional.empty();
    }
    HclConfig r = pluginData.block("revocation");
    String actionName = r.optString("action", "evict").toLowerCase(Locale.ROOT);
    Action action = switch (actionName) {
      case "evict" -> Action.EVICT;
      case "ban" -> Action.BAN;
      default -> throw new HclException("revocation.action must be \"evict\" (the agent may re-attest once Keylime "
          + "passes the node again) or \"ban\" (an operator must lift it), not \"" + actionName + "\"");
    };
    Duration interval = r.optDuration("interval", DEFAULT_INTERVAL);
    if (interval.compareTo(Duration.ofMillis(500)) < 0 || interval.compareTo(Duration.ofMinutes(10)) > 0) {
      throw new HclException("revocation.interval must be between 500ms and 10m (default 2s), not " + interval);
    }
    String socket = r.optString("spire_server_socket", DEFAULT_SOCKET);
    if (!socket.startsWith("/")) {
      throw new HclException("revocation.spire_server_socket must be an absolute path (spire-server's socket_path), not '"
          + socket + "'");
    }
    String deleted = r.optString("deleted_from_verifier", "act").toLowerCase(Locale.ROOT);
    boolean actOnDeleted = switch (deleted) {
      case "act" -> true;
      case "ignore" -> false;
      default -> throw new HclException("revocation.deleted_from_verifier must be \"act\" (a node Keylime no longer "
          + "attests loses its SPIRE agent) or \"ignore\", not \"" + deleted + "\"");
    };
    boolean bulk = r.optBool("bulk", true);
    Duration discovery = r.optDuration("discovery_interval", DEFAULT_DISCOVERY_INTERVAL);
    if (discovery.isNegative() || (!discovery.isZero() && discovery.compareTo(interval) < 0)) {
      throw new HclException("revocation.discovery_interval must be at least revocation.interval (" + interval
          + "), or \"0s\" to watch only the nodes this server attests; not " + discovery);
    }
    r.rejectUnknownKeys();
    return java.util.Optional.of(new RevocationConfig(action, interval, Path.of(socket), actOnDeleted, bulk,
        discovery));
  }
}
