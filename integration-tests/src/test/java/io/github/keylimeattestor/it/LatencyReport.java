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
    System.err.printf("server plugin time per attestation: %s%n", summary(server));
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
