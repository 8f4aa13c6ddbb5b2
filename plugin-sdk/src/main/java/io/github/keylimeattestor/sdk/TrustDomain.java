package io.github.keylimeattestor.sdk;

import java.util.Optional;

/** SPIFFE trust domain names as SPIRE hands them over in CoreConfiguration ("example.org"). */
public final class TrustDomain {
  private static final int MAX_LENGTH = 255;

  private TrustDomain() {}

  /** What is wrong with {@code name} as a trust domain, if anything. */
  public static Optional<String> problem(String name) {
    if (name == null || name.isEmpty()) {
      return Optional.of("SPIRE sent no trust domain (is trust_domain set in the server's config?)");
    }
    if (name.length() > MAX_LENGTH) {
      return Optional.of("trust domain is longer than " + MAX_LENGTH + " characters");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_')) {
        return Optional.of("trust domain \"" + name + "\" has the character '" + c + "': a SPIFFE trust domain is "
            + "lower-case letters, digits, '.', '-' and '_' only (no scheme, port or path)");
      }
    }
    return Optional.empty();
  }
}
