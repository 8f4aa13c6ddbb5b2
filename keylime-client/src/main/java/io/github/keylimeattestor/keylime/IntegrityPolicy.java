package io.github.keylimeattestor.keylime;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What the Keylime verifier checks for a node, from its agent record ({@code GET /v2.x/agents/{id}}
 * in Keylime 7.14.3, {@code cloud_verifier_common.process_get_status}):
 *
 * <ul>
 *   <li>{@code tpm}: {@code tpm_policy} (JSON text such as {@code {"mask": "0x408000", "15": ["<hex>"]}})
 *       names golden values for at least one PCR. The mask alone only makes the agent quote PCRs;
 *       Keylime checks the value of a PCR only when the policy lists values for it.
 *   <li>{@code measured_boot}: {@code has_mb_refstate} is 1 (a measured-boot policy is attached; the
 *       verifier reports 1 for an empty {@code {}} policy too, which Keylime treats as accept-all, so
 *       this says "a policy was given", not how strict it is).
 *   <li>{@code runtime}: {@code has_runtime_policy} is 1 (an IMA runtime policy that is not the empty
 *       allow-list).
 * </ul>
 *
 * {@link #known()} is false when the verifier sent none of the three fields (not a Keylime 7.x agent
 * record): then nothing can be said and {@code require_integrity_policy} refuses the node.
 */
public record IntegrityPolicy(boolean known, boolean tpm, boolean measuredBoot, boolean runtime) {
  public static final IntegrityPolicy UNKNOWN = new IntegrityPolicy(false, false, false, false);

  /** Keylime checks something for this node. */
  public boolean enforcesAny() {
    return tpm || measuredBoot || runtime;
  }

  /** {@code tpm}, {@code measured_boot}, {@code runtime}, or {@code none} alone; empty if unknown. */
  public List<String> names() {
    List<String> out = new ArrayList<>();
    if (!known) {
      return out;
    }
    if (tpm) {
      out.add("tpm");
    }
    if (measuredBoot) {
      out.add("measured_boot");
    }
    if (runtime) {
      out.add("runtime");
    }
    if (out.isEmpty()) {
      out.add("none");
    }
    return out;
  }

  static IntegrityPolicy parse(Fields f) throws KeylimeMalformedResponseException {
    Optional<String> tpmPolicy = f.optString("tpm_policy");
    Optional<Long> mb = f.optInteger("has_mb_refstate");
    Optional<Long> runtime = f.optInteger("has_runtime_policy");
    if (tpmPolicy.isEmpty() && mb.isEmpty() && runtime.isEmpty()) {
      return UNKNOWN;
    }
    boolean tpm = false;
    if (tpmPolicy.isPresent() && !tpmPolicy.get().isBlank()) {
      tpm = hasPcrValues(f, tpmPolicy.get());
    }
    return new IntegrityPolicy(true, tpm, mb.orElse(0L) != 0, runtime.orElse(0L) != 0);
  }

  /** True if the policy lists at least one golden value for a PCR (a numeric key with a value). */
  static boolean hasPcrValues(Fields f, String text) throws KeylimeMalformedResponseException {
    Json n;
    try {
      n = Json.parse(text);
    } catch (IOException e) {
      throw f.bad("tpm_policy", "is not JSON", e);
    }
    if (!n.isObject()) {
      throw f.bad("tpm_policy", "is not a JSON object", null);
    }
    for (var e : n.members().entrySet()) {
      if (!e.getKey().chars().allMatch(Character::isDigit) || e.getKey().isEmpty()) {
        continue;
      }
      Json v = e.getValue();
      if ((v.isArray() && !v.isEmpty()) || (v.isTextual() && !v.asText().isEmpty())) {
        return true;
      }
    }
    return false;
  }
}
