package io.github.keylimeattestor.keylime;

import java.util.Optional;

/** The verifier's {@code operational_state} codes (Keylime {@code common/states.py}). */
public enum OperationalState {
  REGISTERED(0, "Registered"),
  START(1, "Start"),
  SAVED(2, "Saved"),
  GET_QUOTE(3, "Get Quote"),
  GET_QUOTE_RETRY(4, "Get Quote (retry)"),
  PROVIDE_V(5, "Provide V"),
  PROVIDE_V_RETRY(6, "Provide V (retry)"),
  FAILED(7, "Failed"),
  TERMINATED(8, "Terminated"),
  INVALID_QUOTE(9, "Invalid Quote"),
  TENANT_FAILED(10, "Tenant Quote Failed");

  private final int code;
  private final String label;

  OperationalState(int code, String label) {
    this.code = code;
    this.label = label;
  }

  public int code() {
    return code;
  }

  /** Keylime's own wording ({@code state_to_str}). */
  public String label() {
    return label;
  }

  /** FAILED, INVALID_QUOTE or TENANT_FAILED: Keylime has judged the node bad. */
  public boolean isFailure() {
    return this == FAILED || this == INVALID_QUOTE || this == TENANT_FAILED;
  }

  /** GET_QUOTE … PROVIDE_V_RETRY: the verifier is attesting the node and has not failed it. */
  public boolean isAttesting() {
    return code >= 3 && code <= 6;
  }

  public static Optional<OperationalState> fromCode(long code) {
    for (OperationalState s : values()) {
      if (s.code == code) {
        return Optional.of(s);
      }
    }
    return Optional.empty();
  }
}
