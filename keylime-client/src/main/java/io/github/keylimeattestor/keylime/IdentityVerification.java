package io.github.keylimeattestor.keylime;

import java.util.Optional;

/**
 * The verifier's answer to {@code GET /v2.x/verify/identity}: whether the identity quote is signed
 * by the AK the verifier holds for the agent, carries the nonce, and matches its PCR values.
 *
 * @param reason Keylime's explanation when not valid (JSON text of its failure events)
 */
public record IdentityVerification(boolean valid, Optional<String> reason) {

  static IdentityVerification parse(Fields f) throws KeylimeMalformedResponseException {
    Json v = f.node().get("valid");
    boolean valid;
    if (v != null && v.isBoolean()) {
      valid = v.booleanValue();
    } else if (v != null && v.canConvertToLong() && (v.asLong() == 0 || v.asLong() == 1)) {
      valid = v.asLong() == 1;
    } else {
      throw f.bad("valid", "is missing or not 0/1/true/false", null);
    }
    Json r = f.node().get("reason");
    Optional<String> reason =
        r == null || r.isNull() ? Optional.empty() : Optional.of(r.isTextual() ? r.asText() : r.toString());
    return new IdentityVerification(valid, reason);
  }
}
