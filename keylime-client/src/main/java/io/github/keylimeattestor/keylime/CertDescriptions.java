package io.github.keylimeattestor.keylime;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.List;

/** Human-readable certificate summaries for error messages (names and dates, never keys). */
final class CertDescriptions {
  private CertDescriptions() {}

  static String one(X509Certificate c) {
    StringBuilder sb =
        new StringBuilder("[subject '")
            .append(c.getSubjectX500Principal().getName())
            .append("', issuer '")
            .append(c.getIssuerX500Principal().getName())
            .append("'");
    List<String> sans = sans(c);
    if (!sans.isEmpty()) {
      sb.append(", SAN ").append(sans);
    }
    Date now = new Date();
    if (now.after(c.getNotAfter())) {
      sb.append(", EXPIRED ").append(c.getNotAfter().toInstant());
    } else if (now.before(c.getNotBefore())) {
      sb.append(", NOT YET VALID until ").append(c.getNotBefore().toInstant());
    }
    return sb.append(']').toString();
  }

  /** "EXPIRED on T (valid A to B; now N)", "NOT YET VALID: valid from A to B; now N", or null. */
  static String validity(X509Certificate c, java.time.Instant now) {
    java.time.Instant from = c.getNotBefore().toInstant();
    java.time.Instant to = c.getNotAfter().toInstant();
    if (now.isAfter(to)) {
      return "EXPIRED on " + to + " (valid " + from + " to " + to + "; now " + now + ")";
    }
    if (now.isBefore(from)) {
      return "NOT YET VALID: valid from " + from + " to " + to + "; now " + now;
    }
    return null;
  }

  static String chain(X509Certificate[] chain) {
    if (chain == null || chain.length == 0) {
      return "(no certificate)";
    }
    List<String> parts = new ArrayList<>();
    for (X509Certificate c : chain) {
      parts.add(one(c));
    }
    return String.join(" <- ", parts);
  }

  static String subjects(Collection<X509Certificate> certs) {
    return certs.stream().map(c -> "'" + c.getSubjectX500Principal().getName() + "'").toList().toString();
  }

  /** The names a server certificate carries: DNS and IP SANs, or its subject if it has none. */
  static List<String> names(X509Certificate c) {
    List<String> s = sans(c);
    return s.isEmpty() ? List.of("subject " + c.getSubjectX500Principal().getName()) : s;
  }

  private static List<String> sans(X509Certificate c) {
    List<String> out = new ArrayList<>();
    try {
      var all = c.getSubjectAlternativeNames();
      if (all != null) {
        for (List<?> e : all) {
          int type = (Integer) e.get(0);
          if (type == 2) {
            out.add("DNS:" + e.get(1));
          } else if (type == 7) {
            out.add("IP:" + e.get(1));
          }
        }
      }
    } catch (CertificateParsingException e) {
      out.add("(unparsable SAN)");
    }
    return out;
  }
}
