package io.github.keylimeattestor.keylime;

import java.net.URI;

/**
 * No Keylime endpoint answered: connection refused, unreachable, reset, timed out, or answered
 * with a server-side (5xx) error. Retryable: the operator should check that the component runs
 * and is reachable on the configured address.
 */
public final class KeylimeUnavailableException extends KeylimeException {
  private static final long serialVersionUID = 1L;

  private final boolean timedOut;

  public KeylimeUnavailableException(String message, URI uri, boolean timedOut, Throwable cause) {
    super(message, uri, cause);
    this.timedOut = timedOut;
  }

  /** True if the failure was a timeout (connect or response) rather than a refusal. */
  public boolean timedOut() {
    return timedOut;
  }

  @Override
  public boolean isRetryable() {
    return true;
  }
}
