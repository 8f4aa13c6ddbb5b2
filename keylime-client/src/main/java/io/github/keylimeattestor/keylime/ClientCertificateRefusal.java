package io.github.keylimeattestor.keylime;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.security.auth.x500.X500Principal;

/**
 * Why a server refused our client certificate, and the fix, from what the handshake showed: the
 * alert (OpenSSL sends {@code unsupported_certificate} for a wrong purpose/EKU, {@code
 * certificate_expired} for dates, {@code unknown_ca} when it cannot build a chain to a trust
 * anchor), the CA names in the server's CertificateRequest (OpenSSL servers such as Keylime's send
 * none unless configured to), and our own chain. When the handshake cannot tell the causes apart,
 * the candidates come in order of likelihood.
 */
final class ClientCertificateRefusal {
  private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
  private static final String ANY_EKU = "2.5.29.37.0";

  private ClientCertificateRefusal() {}

  /**
   * @param alert the TLS alert, or null if the server just closed the connection
   * @param askedFor the CA names of the server's CertificateRequest (may be empty)
   */
  static String explain(String alert, List<String> askedFor, TlsSettings tls) {
    TlsKeys k = tls.keys();
    List<X509Certificate> chain = tls.clientCertificateChain();
    if (chain.isEmpty()) {
      return "it requires a client certificate and none is configured: set " + k.clientCert() + " and "
          + k.clientKey();
    }
    X509Certificate leaf = chain.get(0);
    String ours = "our client certificate " + CertDescriptions.chain(chain.toArray(new X509Certificate[0]));
    String asked = askedFor.isEmpty() ? "" : "; the server asked for certificates issued by " + askedFor;

    for (X509Certificate c : chain) {
      String v = CertDescriptions.validity(c, Instant.now());
      if (v != null) {
        return (c == leaf ? "our client certificate '" + name(c) + "'" : "the CA certificate '" + name(c) + "' in "
            + k.clientCert()) + " is " + v + (v.startsWith("EXPIRED") ? ": renew it" : ": a clock is wrong, or it "
            + "was issued for later") + "; " + ours;
      }
    }
    String purpose = purposeProblem(leaf);
    if (purpose != null) {
      return purpose + ": re-issue it with extendedKeyUsage = clientAuth (and keyUsage = digitalSignature)"
          + (alert == null || "unsupported_certificate".equals(alert) ? "" : " (alert " + alert + ")") + "; " + ours;
    }
    if ("unsupported_certificate".equals(alert)) {
      return "the server refused the certificate's purpose (OpenSSL: invalid purpose); check its extendedKeyUsage "
          + "(clientAuth), keyUsage and, for its CA certificates, basicConstraints CA:TRUE; " + ours;
    }

    X500Principal issuer = leaf.getIssuerX500Principal();
    X509Certificate top = chain.get(chain.size() - 1);
    boolean topIsRoot = selfSigned(top);
    X500Principal root = topIsRoot ? top.getSubjectX500Principal() : top.getIssuerX500Principal();
    boolean leafOnly = chain.size() == 1 && !selfSigned(leaf);
    String intermediate = "'" + issuer.getName() + "'";
    String rootName = "'" + root.getName() + "'";
    String fixIntermediate = "put the intermediate CA certificate " + intermediate + " after the client certificate "
        + "in " + k.clientCert() + " (leaf first), so that a server that trusts only the root can build the chain";
    String fixRoot = "add the root CA " + rootName + " to the server's trusted_client_ca (Keylime's OpenSSL does "
        + "not use an intermediate alone as a trust anchor, so trusting only the intermediate is not enough)";

    if (!askedFor.isEmpty()) {
      List<X500Principal> names = new ArrayList<>();
      for (String a : askedFor) {
        try {
          names.add(new X500Principal(a));
        } catch (IllegalArgumentException e) {
          // unparsable name: compare nothing
        }
      }
      boolean asksRoot = names.contains(root);
      boolean asksIssuer = names.contains(issuer);
      if (asksRoot && leafOnly && !issuer.equals(root)) {
        return "the server trusts the root " + rootName + " but we send only the leaf: " + fixIntermediate + "; "
            + ours + asked;
      }
      if (asksIssuer && !asksRoot && !issuer.equals(root)) {
        return "the server's trusted_client_ca holds the intermediate " + intermediate + " but not its root: "
            + fixRoot + "; " + ours + asked;
      }
      if (!asksRoot && !asksIssuer) {
        return "the server trusts none of our chain's CAs: add our root CA " + rootName + " to the server's "
            + "trusted_client_ca, or use a client certificate issued under one of the CAs it asked for; " + ours
            + asked;
      }
    }
    List<String> candidates = new ArrayList<>();
    if (leafOnly) {
      candidates.add(fixIntermediate);
      candidates.add(fixRoot.replace(rootName, "of " + intermediate));
      candidates.add("add " + intermediate + " (or, if it is an intermediate, its root) to the server's "
          + "trusted_client_ca: it may trust another CA altogether");
    } else {
      candidates.add(fixRoot);
      candidates.add("check that the server's trusted_client_ca file is the one it loads (Keylime: trusted_client_ca "
          + "in the [verifier] / [registrar] section, relative to tls_dir) and restart it after changing it");
    }
    StringBuilder sb = new StringBuilder("it did not accept ").append(ours).append(asked)
        .append(alert == null ? "" : " (alert " + alert + ")").append(". Likely fixes, most likely first: ");
    for (int i = 0; i < candidates.size(); i++) {
      sb.append(i == 0 ? "" : "; ").append(i + 1).append(") ").append(candidates.get(i));
    }
    return sb.toString();
  }

  /** Why the leaf is not usable for TLS client authentication, or null. */
  static String purposeProblem(X509Certificate leaf) {
    try {
      List<String> eku = leaf.getExtendedKeyUsage();
      if (eku != null && !eku.contains(CLIENT_AUTH) && !eku.contains(ANY_EKU)) {
        return "our client certificate '" + name(leaf) + "' has extendedKeyUsage " + ekuNames(eku)
            + " without clientAuth";
      }
    } catch (CertificateParsingException e) {
      return "our client certificate '" + name(leaf) + "' has an unreadable extendedKeyUsage";
    }
    boolean[] ku = leaf.getKeyUsage();
    if (ku != null && !ku[0] && !(ku.length > 4 && ku[4])) {
      return "our client certificate '" + name(leaf) + "' has a keyUsage without digitalSignature";
    }
    return null;
  }

  private static List<String> ekuNames(List<String> oids) {
    return oids.stream().map(o -> switch (o) {
      case "1.3.6.1.5.5.7.3.1" -> "serverAuth";
      case "1.3.6.1.5.5.7.3.2" -> "clientAuth";
      case "1.3.6.1.5.5.7.3.3" -> "codeSigning";
      case "1.3.6.1.5.5.7.3.4" -> "emailProtection";
      default -> o;
    }).toList();
  }

  private static boolean selfSigned(X509Certificate c) {
    return c.getSubjectX500Principal().equals(c.getIssuerX500Principal());
  }

  private static String name(X509Certificate c) {
    return c.getSubjectX500Principal().getName();
  }
}
