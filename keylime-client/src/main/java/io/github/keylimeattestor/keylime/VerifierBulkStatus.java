package io.github.keylimeattestor.keylime;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The verifier's bulk answer ({@code GET /v2.x/agents/?bulk=true[&verifier=<id>]}): every agent it
 * holds, keyed by UUID. A record that does not parse is kept apart with the reason, so that one odd
 * record never hides the others (and is never mistaken for an agent that is gone). A member that is
 * not a record at all means another service answered, and the whole answer is refused.
 *
 * @param agents the agents whose record parsed
 * @param unreadable UUID to the reason its record did not parse
 */
public record VerifierBulkStatus(Map<String, VerifierAgentStatus> agents, Map<String, String> unreadable) {

  public VerifierBulkStatus {
    agents = java.util.Collections.unmodifiableMap(agents);
    unreadable = java.util.Collections.unmodifiableMap(unreadable);
  }

  /** Streams {@code {"code":..,"status":..,"results":{"<uuid>":{...},...}}} one agent at a time. */
  static VerifierBulkStatus read(URI uri, JsonParser p) throws IOException, KeylimeException {
    // Jackson's duplicate check costs a HashSet per object (most of the parse for 10,000 agents);
    // repeated keys are caught below instead.
    p.disable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    if (p.nextToken() != JsonToken.START_OBJECT) {
      throw new KeylimeMalformedResponseException("bulk status from " + HttpTransport.shown(uri) + " is not a JSON object", uri, null);
    }
    Optional<VerifierBulkStatus> found = Optional.empty();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken value = p.nextToken();
      if (field.equals("results") && value == JsonToken.START_OBJECT) {
        if (found.isPresent()) {
          throw new KeylimeMalformedResponseException("bulk status from " + HttpTransport.shown(uri) + " has two 'results'", uri, null);
        }
        found = Optional.of(readResults(uri, p));
      } else {
        p.skipChildren();
      }
    }
    return found.orElseThrow(() -> new KeylimeMalformedResponseException(
        "bulk status from " + HttpTransport.shown(uri) + " has no 'results' object", uri, null));
  }

  private static final Json NOT_READ = Json.object(Map.of());

  private static VerifierBulkStatus readResults(URI uri, JsonParser p) throws IOException, KeylimeException {
    Map<String, VerifierAgentStatus> agents = new HashMap<>();
    Map<String, String> unreadable = new HashMap<>();
    Map<String, Json> members = new HashMap<>(); // reused: parse() copies what it keeps
    Json record = Json.objectView(members);
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String uuid = p.currentName();
      if (p.nextToken() != JsonToken.START_OBJECT) {
        // a verifier keys an object per agent; the registrar answers {"results":{"uuids":[...]}} here,
        // whose agents would all look deleted
        throw new KeylimeMalformedResponseException("bulk status from " + HttpTransport.shown(uri) + " holds '" + uuid + "', which is not "
            + "an agent's record: is this URL the Keylime verifier (not the registrar)?", uri, null);
      }
      members.clear();
      String problem = null;
      // only the scalar fields are read: the status has no list or object fields (tpm_policy is JSON
      // text); a list or an object stands in as an empty object, so one where the status reads a
      // scalar is a wrong type, and a field repeated is caught whatever its values' types
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken t = p.nextToken();
        Json value;
        if (t == JsonToken.START_ARRAY || t == JsonToken.START_OBJECT) {
          p.skipChildren();
          value = NOT_READ;
        } else {
          value = Json.scalar(p, t);
        }
        if (members.put(field, value) != null) {
          problem = "field '" + field + "' appears twice";
        }
      }
      if (agents.containsKey(uuid) || unreadable.containsKey(uuid)) {
        agents.remove(uuid);
        unreadable.put(uuid, "the agent appears twice");
        continue;
      }
      if (problem != null) {
        unreadable.put(uuid, problem);
        continue;
      }
      try {
        agents.put(uuid, VerifierAgentStatus.parse(new Fields(record, uri, "bulk status of " + uuid), uuid));
      } catch (KeylimeMalformedResponseException e) {
        unreadable.put(uuid, e.getMessage());
      }
    }
    return new VerifierBulkStatus(agents, unreadable);
  }
}
