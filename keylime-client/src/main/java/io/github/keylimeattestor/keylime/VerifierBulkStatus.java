package io.github.keylimeattestor.keylime;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The verifier's bulk answer ({@code GET /v2.x/agents/?bulk=true[&verifier=<id>]}): every agent it
 * holds, keyed by UUID. A record that does not parse is kept apart with the reason, so that one odd
 * record never hides the others (and is never mistaken for an agent that is gone).
 *
 * @param agents the agents whose record parsed
 * @param unreadable UUID to the reason its record did not parse
 */
public record VerifierBulkStatus(Map<String, VerifierAgentStatus> agents, Map<String, String> unreadable) {

  /** Streams {@code {"code":..,"status":..,"results":{"<uuid>":{...},...}}} one agent at a time. */
  static VerifierBulkStatus read(URI uri, JsonParser p) throws IOException, KeylimeException {
    if (p.nextToken() != JsonToken.START_OBJECT) {
      throw new KeylimeMalformedResponseException("bulk status from " + uri + " is not a JSON object", uri, null);
    }
    Optional<VerifierBulkStatus> found = Optional.empty();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken value = p.nextToken();
      if (field.equals("results") && value == JsonToken.START_OBJECT) {
        found = Optional.of(readResults(uri, p));
      } else {
        p.skipChildren();
      }
    }
    return found.orElseThrow(() -> new KeylimeMalformedResponseException(
        "bulk status from " + uri + " has no 'results' object", uri, null));
  }

  private static VerifierBulkStatus readResults(URI uri, JsonParser p) throws IOException {
    Map<String, VerifierAgentStatus> agents = new HashMap<>();
    Map<String, String> unreadable = new HashMap<>();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String uuid = p.currentName();
      p.nextToken();
      JsonNode record = p.readValueAsTree();
      if (record == null || !record.isObject()) {
        unreadable.put(uuid, "not a JSON object");
        continue;
      }
      try {
        agents.put(uuid, VerifierAgentStatus.parse(new Fields(record, uri, "bulk status of " + uuid), uuid));
      } catch (KeylimeMalformedResponseException e) {
        unreadable.put(uuid, e.getMessage());
      }
    }
    return new VerifierBulkStatus(Map.copyOf(agents), Map.copyOf(unreadable));
  }
}
