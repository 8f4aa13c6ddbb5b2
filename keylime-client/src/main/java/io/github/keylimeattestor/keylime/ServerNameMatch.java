package io.github.keylimeattestor.keylime;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;

/**
 * Does a server certificate carry a configured DNS name? RFC 6125 matching: the certificate's DNS
 * subject alternative names (its common name only when it has no DNS name at all, as the JDK
 * does), case-insensitive, a wildcard only as the whole left-most label of a name with at least
 * three labels. IP address entries never match a DNS name.
 *
 * <p>The JDK's HTTPS identity check tries the SNI name and, when that fails, falls back to the
 * host dialled; with a configured server name that fallback would accept any certificate that
 * also names the dialled IP. This check is what pins the name.
 */
final class ServerNameMatch {
  private ServerNameMatch() {}

  static boolean matches(X509Certificate leaf, String name) {
    String want = normalise(name);
    List<String> dns = dnsNames(leaf);
    if (dns.isEmpty()) {
      String cn = commonName(leaf.getSubjectX500Principal());
      return cn != null && matchesPattern(normalise(cn), want);
    }
    for (String d : dns) {
      if (matchesPattern(normalise(d), want)) {
        return true;
      }
    }
    return false;
  }

  static List<String> dnsNames(X509Certificate c) {
    List<String> out = new ArrayList<>();
    try {
      var all = c.getSubjectAlternativeNames();
      if (all != null) {
        for (List<?> e : all) {
          if ((Integer) e.get(0) == 2) {
            out.add(String.valueOf(e.get(1)));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // an unparsable SAN extension matches nothing
    }
    return out;
  }

  private static String normalise(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    return t.endsWith(".") ? t.substring(0, t.length() - 1) : t;
  }

  private static boolean matchesPattern(String pattern, String name) {
    if (!pattern.startsWith("*.")) {
      return !pattern.contains("*") && pattern.equals(name);
    }
    String suffix = pattern.substring(1); // ".example.org"
    if (suffix.contains("*") || suffix.chars().filter(ch -> ch == '.').count() < 2) {
      return false;
    }
    if (!name.endsWith(suffix)) {
      return false;
    }
    String label = name.substring(0, name.length() - suffix.length());
    return !label.isEmpty() && !label.contains(".");
  }

  private static String commonName(X500Principal p) {
    RDN[] cns = X500Name.getInstance(p.getEncoded()).getRDNs(BCStyle.CN);
    if (cns.length == 0) {
      return null;
    }
    // the most specific (last) CN, as the JDK's host name checker takes it
    return IETFUtils.valueToString(cns[cns.length - 1].getFirst().getValue());
  }
}
