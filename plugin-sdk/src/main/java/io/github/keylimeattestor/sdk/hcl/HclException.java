package io.github.keylimeattestor.sdk.hcl;

/** The plugin configuration text is not valid HCL, or a value has the wrong type. */
public final class HclException extends Exception {
  private static final long serialVersionUID = 1L;

  public HclException(String message) {
    super(message);
  }
}
