package io.github.keylimeattestor.keylime;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/** One call tried against each configured base URL in turn. */
final class Failover {

  /** One attempt against one base URL. */
  @FunctionalInterface
  interface Call<T> {
    T apply(URI base) throws KeylimeException;
  }

  private Failover() {}

  /**
   * Runs {@code call} against each base URL in turn until one gives an answer. Moves on to the
   * next URL when one is unavailable or its TLS handshake fails; a Keylime answer (success, 4xx,
   * malformed) ends the loop.
   */
  static <T> T across(String component, List<URI> urls, Call<T> call) throws KeylimeException {
    List<KeylimeException> failures = new ArrayList<>();
    for (URI base : urls) {
      try {
        return call.apply(base);
      } catch (KeylimeUnavailableException | KeylimeTlsException e) {
        failures.add(e);
      }
    }
    KeylimeException first = failures.get(0);
    if (failures.size() == 1) {
      throw first;
    }
    for (KeylimeException f : failures) {
      if (f instanceof KeylimeTlsException tls) {
        failures.stream().filter(x -> x != tls).forEach(tls::addSuppressed);
        throw tls;
      }
    }
    StringBuilder sb = new StringBuilder("no " + component + " URL answered: ");
    boolean allTimedOut = true;
    for (int i = 0; i < failures.size(); i++) {
      KeylimeUnavailableException u = (KeylimeUnavailableException) failures.get(i);
      allTimedOut &= u.timedOut();
      sb.append(i == 0 ? "" : "; ").append(u.getMessage());
    }
    KeylimeUnavailableException all =
        new KeylimeUnavailableException(sb.toString(), null, allTimedOut, null);
    failures.forEach(all::addSuppressed);
    throw all;
  }
}
