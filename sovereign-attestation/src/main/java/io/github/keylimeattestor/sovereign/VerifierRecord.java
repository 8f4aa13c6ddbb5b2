package io.github.keylimeattestor.sovereign;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the Keylime verifier (reached over mTLS) says about the node, as far as selectors use it:
 * its attestation status, its {@code meta_data} fields (tenant-asserted, not TPM-attested), and the
 * names of the integrity policies it enforces.
 */
public record VerifierRecord(Optional<String> attestationStatus, Map<String, String> metaData, List<String> policies) {
  public VerifierRecord {
    metaData = Map.copyOf(metaData);
    policies = List.copyOf(policies);
  }
}
