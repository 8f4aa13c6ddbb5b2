package io.github.keylimeattestor.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Prints re-attestation figures from SPIRE's own logs (not a timed assertion): the agent's
 * re-attestation latency (SPIRE's own "Reattesting node" to "Successfully reattested node") and the server plugin's verification time per attestation.
 */
final class LatencyReport {
  private LatencyReport() {}

  static void print(SpireTestbed bed) {
    List<Double> server = new ArrayList<>();
    for (JsonNode e : bed.server.entries(KeylimeEndToEndIT.ours("node attested"))) {
      server.add(e.path("server_ms").asDouble());
    }
    List<OffsetDateTime> starts = new ArrayList<>();
    for (JsonNode e : bed.agent.entries(SpireProcess.msg("Reattesting node"))) {
      starts.add(OffsetDateTime.parse(e.path("time").asText()));
    }
    List<Double> agent = new ArrayList<>();
    for (JsonNode e : bed.agent.entries(SpireProcess.msg("Successfully reattested node"))) {
      OffsetDateTime end = OffsetDateTime.parse(e.path("time").asText());
      OffsetDateTime start = null;
      for (OffsetDateTime s : starts) {
        if (!s.isAfter(end)) {
          start = s;
        }
      }
      if (start != null) {
        agent.add(Duration.between(start, end).toNanos() / 1e6);
      }
    }
    System.err.printf("re-attestation latency seen by spire-agent: %s%n", summary(agent));
    if (agent.size() > 1) {
      // With agent_ttl 6s the first re-attestation starts as soon as the agent is up, within a second of the
      // first attestation, and spire-server holds it until its per-IP attestation limit (1 a second,
      // pkg/server/api/limits v1.15.3) lets it through: about 800 ms that are not ours (gone with
      // ratelimit { attestation = false }).
      System.err.printf("  the first: %.1f ms, started %s after the first attestation ended (spire-server's one attestation"
          + " per second per IP holds it); the others: %s%n", agent.get(0), sinceFirstAttestation(bed, starts),
          summary(agent.subList(1, agent.size())));
    }
    System.err.printf("server plugin time per attestation: %s%n", summary(server));
  }

  static String sinceFirstAttestation(SpireTestbed bed, List<OffsetDateTime> reattestStarts) {
    List<JsonNode> ok = bed.agent.entries(SpireProcess.msg("Node attestation was successful"));
    if (ok.isEmpty() || reattestStarts.isEmpty()) {
      return "?";
    }
    return Duration.between(OffsetDateTime.parse(ok.get(0).path("time").asText()), reattestStarts.get(0)).toMillis() + " ms";
  }

  static String summary(List<Double> v) {
    if (v.isEmpty()) {
      return "no samples";
    }
    List<Double> s = new ArrayList<>(v);
    Collections.sort(s);
    return String.format("n=%d median %.1f ms, p99 %.1f ms, max %.1f ms", s.size(), s.get(s.size() / 2),
        s.get(Math.min(s.size() - 1, (int) Math.ceil(s.size() * 0.99) - 1)), s.get(s.size() - 1));
  }
}
