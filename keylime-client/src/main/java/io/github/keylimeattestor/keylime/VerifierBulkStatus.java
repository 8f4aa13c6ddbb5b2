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
    if (p.nextToken() != null) {
      throw new KeylimeMalformedResponseException("bulk status from " + HttpTransport.shown(uri)
          + " has data after its JSON object", uri, null);
    }
    return found.orElseThrow(() -> new KeylimeMalformedResponseException(
        "bulk status from " + HttpTransport.shown(uri) + " has no 'results' object", uri, null));
  }

  /**
   * Records one answer may hold. A real record is about 760 bytes (10,000 agents in 7.6 MB), so the
   * 16 MiB cap on the body holds some 22,000; tiny made-up ones ({@code "x":{}}) would be millions,
   * each kept as an unreadable record.
   */
  static final int MAX_RECORDS = 50_000;
  /** Unreadable records whose own reason is kept; the others share one (the watch asks only for its nodes). */
  static final int REASONS_KEPT = 100;

  private static final Json NOT_READ = Json.object(Map.of());
  private static final String MANY_UNREADABLE = "unreadable (one of more than " + REASONS_KEPT + " unreadable records "
      + "in this answer; ask for it alone to see why)";

  private static String reason(Map<String, String> unreadable, String reason) {
    return unreadable.size() < REASONS_KEPT ? reason : MANY_UNREADABLE;
  }

  private static VerifierBulkStatus readResults(URI uri, JsonParser p) throws IOException, KeylimeException {
    Map<String, VerifierAgentStatus> agents = new HashMap<>();
    Map<String, String> unreadable = new HashMap<>();
    Map<String, Json> members = new HashMap<>(); // reused: parse() copies what it keeps
    Json record = Json.objectView(members);
    int records = 0;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String uuid = p.currentName();
      if (++records > MAX_RECORDS) {
        throw new KeylimeMalformedResponseException("bulk status from " + HttpTransport.shown(uri) + " holds more "
            + "than " + MAX_RECORDS + " records, more than its size allows for real ones", uri, null);
      }
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
        unreadable.put(uuid, reason(unreadable, "the agent appears twice"));
        continue;
      }
      if (problem != null) {
        unreadable.put(uuid, reason(unreadable, problem));
        continue;
      }
      try {
        agents.put(uuid, VerifierAgentStatus.parse(new Fields(record, uri, "bulk status of " + uuid), uuid));
      } catch (KeylimeMalformedResponseException e) {
        unreadable.put(uuid, reason(unreadable, e.getMessage()));
      }
    }
    return new VerifierBulkStatus(agents, unreadable);
  }
}
