package io.github.keylimeattestor.sovereign;

/**
 * Evidence that is malformed or does not verify. {@link #kind()} decides what SPIRE sees
 * (InvalidArgument or PermissionDenied); {@link #check()} names the check for logs and metrics.
 * Messages say what failed and what to look at, never key material.
 */
public final class EvidenceException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Malformed input (InvalidArgument) or evidence that does not verify (PermissionDenied). */
  public enum Kind {
    MALFORMED,
    REJECTED
  }

  private final Kind kind;
  private final String check;

  public EvidenceException(Kind kind, String check, String message) {
    super(message);
    this.kind = kind;
    this.check = check;
  }

  public EvidenceException(Kind kind, String check, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.check = check;
  }

  static EvidenceException malformed(String check, String message) {
    return new EvidenceException(Kind.MALFORMED, check, message);
  }

  static EvidenceException rejected(String check, String message) {
    return new EvidenceException(Kind.REJECTED, check, message);
  }

  public Kind kind() {
    return kind;
  }

  public String check() {
    return check;
  }
}
