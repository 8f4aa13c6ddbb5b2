package io.github.keylimeattestor.keylime;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * A push-mode verifier's latest attestation of an agent ({@code GET
 * /v3.0/agents/{uuid}/attestations/latest}, Keylime 7.14 with {@code [verifier] mode = push}).
 * Keylime 7.14.3 answers it with HTTP 201 and a JSON:API document whose {@code
 * data.attributes} carry the fields below; it sets no {@code verification_completed_at} (a TODO in
 * its model), so the time the evidence arrived is the freshest time it serves for an evaluation.
 *
 * @param stage {@code awaiting_evidence} (capabilities received, quote not yet), {@code
 *     evaluating_evidence}, or {@code verification_complete}
 * @param evaluation {@code pending}, {@code pass} or {@code fail}
 * @param failureReason {@code broken_evidence_chain} or {@code policy_violation}, if failed
 * @param capabilitiesReceivedAt when the agent opened this attestation
 * @param evidenceReceivedAt when its quote arrived (empty while awaiting evidence)
 */
public record PushAttestation(
    String stage,
    String evaluation,
    Optional<String> failureReason,
    Optional<Instant> capabilitiesReceivedAt,
    Optional<Instant> evidenceReceivedAt) {

  public boolean complete() {
    return stage.equals("verification_complete");
  }

  public boolean passed() {
    return complete() && evaluation.equals("pass");
  }

  public boolean failed() {
    return complete() && evaluation.equals("fail");
  }

  static PushAttestation parse(HttpTransport.Answer a, String what) throws KeylimeMalformedResponseException {
    var attrs = a.body().path("data").path("attributes");
    if (!attrs.isObject()) {
      throw new KeylimeMalformedResponseException(
          what + " from " + a.uri() + " has no JSON:API 'data.attributes' object", a.uri(), null);
    }
    Fields f = new Fields(attrs, a.uri(), what);
    String stage = f.string("stage");
    if (!stage.equals("awaiting_evidence") && !stage.equals("evaluating_evidence")
        && !stage.equals("verification_complete")) {
      throw f.bad("stage", "has an unknown value '" + stage + "'", null);
    }
    String evaluation = f.string("evaluation");
    if (!evaluation.equals("pending") && !evaluation.equals("pass") && !evaluation.equals("fail")) {
      throw f.bad("evaluation", "has an unknown value '" + evaluation + "'", null);
    }
    return new PushAttestation(stage, evaluation, f.optString("failure_reason"),
        time(f, "capabilities_received_at"), time(f, "evidence_received_at"));
  }

  private static Optional<Instant> time(Fields f, String field) throws KeylimeMalformedResponseException {
    Optional<String> s = f.optString(field);
    if (s.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(OffsetDateTime.parse(s.get()).toInstant());
    } catch (DateTimeParseException e) {
      throw f.bad(field, "is not an ISO-8601 time: " + s.get(), e);
    }
  }
}
