package io.github.keylimeattestor.keylime;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Delegates every decision to the JDK's PKIX trust manager (chain validation and, through the
 * engine's endpoint identification, host-name checks) and only enriches a refusal with the
 * certificate subjects and issuers involved. It never accepts anything the delegate refuses.
 */
final class DiagnosingTrustManager extends X509ExtendedTrustManager {

  private final X509ExtendedTrustManager delegate;
  private final List<X509Certificate> anchors;
  private final String pinnedName; // null: the JDK's check against the host dialled
  private final TlsKeys keys;
  private final Runnable onServerCheck;

  DiagnosingTrustManager(X509ExtendedTrustManager delegate, List<X509Certificate> anchors, String pinnedName,
      TlsKeys keys, Runnable onServerCheck) {
    this.delegate = delegate;
    this.anchors = anchors;
    this.pinnedName = pinnedName;
    this.keys = keys;
    this.onServerCheck = onServerCheck;
  }

  /** With a configured server name the certificate must carry it: the dialled host is not enough. */
  private void checkPinnedName(X509Certificate[] chain, String host) throws CertificateException {
    if (pinnedName != null && (chain == null || chain.length == 0 || !ServerNameMatch.matches(chain[0], pinnedName))) {
      throw rejected(chain, new CertificateException("No subject alternative DNS name matching " + pinnedName
          + " found (the certificate names the host dialled, but a configured server name must match)"), host,
          pinnedName);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    onServerCheck.run();
    try {
      delegate.checkServerTrusted(chain, authType, engine);
    } catch (CertificateException e) {
      // the JDK's HttpClient sends the URL's host as SNI when it is a DNS name, whatever was
      // configured: then the name that failed is the host dialled, not the configured one
      String sni = sni(engine);
      throw rejected(chain, e, engine == null ? null : engine.getPeerHost(),
          sni != null && sni.equalsIgnoreCase(pinnedName) ? sni : null);
    }
    checkPinnedName(chain, engine == null ? null : engine.getPeerHost());
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    onServerCheck.run();
    try {
      delegate.checkServerTrusted(chain, authType, socket);
    } catch (CertificateException e) {
      String host = socket == null || socket.getInetAddress() == null ? null : socket.getInetAddress().getHostName();
      throw rejected(chain, e, host, pinnedName);
    }
    checkPinnedName(chain, socket == null || socket.getInetAddress() == null ? null : socket.getInetAddress().getHostName());
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    try {
      delegate.checkServerTrusted(chain, authType);
    } catch (CertificateException e) {
      throw rejected(chain, e, null, pinnedName);
    }
    checkPinnedName(chain, null);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    delegate.checkClientTrusted(chain, authType, engine);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    delegate.checkClientTrusted(chain, authType, socket);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    delegate.checkClientTrusted(chain, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return delegate.getAcceptedIssuers();
  }

  private static String sni(SSLEngine engine) {
    if (engine == null) {
      return null;
    }
    List<SNIServerName> names = engine.getSSLParameters().getServerNames();
    if (names == null) {
      return null;
    }
    for (SNIServerName n : names) {
      if (n instanceof SNIHostName h) {
        return h.getAsciiName();
      }
    }
    return null;
  }

  private ServerCertificateRejectedException rejected(
      X509Certificate[] chain, CertificateException cause, String host, String sni) {
    String reason = String.valueOf(cause.getMessage());
    String presented = "; server presented: " + CertDescriptions.chain(chain);
    String outOfDate = validityProblem(chain, Instant.now());
    if (outOfDate != null) {
      return new ServerCertificateRejectedException(outOfDate + presented, false, cause);
    }
    boolean nameMismatch =
        reason.contains("No subject alternative") || reason.contains("No name matching");
    if (nameMismatch) {
      String names = chain == null || chain.length == 0 ? "[]" : CertDescriptions.names(chain[0]).toString();
      String msg = sni != null
          ? "the server certificate does not carry the configured " + keys.serverName() + " '" + sni + "' (it names "
              + names + "): set " + keys.serverNameFix() + " to one of its DNS names"
          : pinnedName != null
              ? "the server certificate does not name the host dialled '" + host + "' (it names " + names + "): with "
                  + "a DNS name in the URL the JDK checks that name as well as " + keys.serverName() + " '" + pinnedName
                  + "'; dial an IP address or a name the certificate carries"
              : "the server certificate does not name the host dialled '" + host + "' (it names " + names + "): set "
                  + keys.serverNameFix() + " to one of its DNS names, or dial a name it carries in the URL";
      return new ServerCertificateRejectedException(msg + presented, true, cause);
    }
    return new ServerCertificateRejectedException(untrusted(chain, reason) + presented
        + "; " + keys.caBundle() + " holds: " + CertDescriptions.subjects(anchors), false, cause);
  }

  /** The first certificate of the chain outside its validity period, with dates, or null. */
  static String validityProblem(X509Certificate[] chain, Instant now) {
    if (chain == null) {
      return null;
    }
    for (int i = 0; i < chain.length; i++) {
      String v = CertDescriptions.validity(chain[i], now);
      if (v != null) {
        return (i == 0 ? "the server certificate '" : "the server's CA certificate '")
            + chain[i].getSubjectX500Principal().getName() + "' is " + v
            + (v.startsWith("EXPIRED") ? ": renew it on the server" : " (is this host's or the issuing CA's clock wrong?)");
      }
    }
    return null;
  }

  private String untrusted(X509Certificate[] chain, String reason) {
    if (chain == null || chain.length == 0) {
      return "the server sent no certificate";
    }
    X509Certificate top = chain[chain.length - 1];
    X500Principal issuer = top.getIssuerX500Principal();
    boolean selfSigned = issuer.equals(top.getSubjectX500Principal());
    boolean issuerKnown = anchors.stream().anyMatch(a -> a.getSubjectX500Principal().equals(issuer));
    for (X509Certificate a : anchors) {
      String v = CertDescriptions.validity(a, Instant.now());
      if (v != null && a.getSubjectX500Principal().equals(issuer)) {
        return "the CA certificate '" + a.getSubjectX500Principal().getName() + "' in " + keys.caBundle() + " is " + v
            + ": replace it in " + keys.caBundle();
      }
    }
    if (selfSigned && anchors.stream().noneMatch(top::equals)
        && anchors.stream().anyMatch(a -> a.getSubjectX500Principal().equals(top.getSubjectX500Principal()))) {
      return "the server presented a self-signed certificate named '" + top.getSubjectX500Principal().getName()
          + "' like one in " + keys.caBundle() + ", but with another key: the server's certificate was re-made "
          + "(put its current certificate in " + keys.caBundle() + ") or this is not the server you expect ("
          + reason + ")";
    }
    if (!selfSigned && issuerKnown && anchors.stream().filter(a -> a.getSubjectX500Principal().equals(issuer))
        .noneMatch(a -> signedBy(top, a))) {
      return "the server's certificate '" + top.getSubjectX500Principal().getName() + "' names the issuer '"
          + issuer.getName() + "', but the CA of that name in " + keys.caBundle() + " did not sign it: "
          + keys.caBundle() + " holds another CA of the same name (re-generated?); put the server's current CA "
          + "certificate there (" + reason + ")";
    }
    if (!selfSigned && !issuerKnown) {
      if (chain.length == 1) {
        // Adding the issuer is right whether it is a root or an intermediate (the JDK accepts any
        // certificate in the bundle as a trust anchor); say which case the two-tier one is.
        return "the server sent only its own certificate, issued by '" + issuer.getName() + "', and "
            + keys.caBundle() + " does not hold that CA: add it to " + keys.caBundle() + ". If '" + issuer.getName()
            + "' is an intermediate CA and " + keys.caBundle() + " holds only the root, the intermediate is missing, "
            + "add it to " + keys.caBundle() + " beside the root, or have the server send it (Keylime: the "
            + "intermediate after the server certificate in its server_cert file) (" + reason + ")";
      }
      return "the server's chain ends at '" + top.getSubjectX500Principal().getName() + "', issued by '"
          + issuer.getName() + "', which " + keys.caBundle() + " does not hold: add the CA certificate '"
          + issuer.getName() + "' (the root of the server's PKI) to " + keys.caBundle() + " (" + reason + ")";
    }
    if (selfSigned && anchors.stream().noneMatch(top::equals)) {
      return "the server's chain ends at the root '" + top.getSubjectX500Principal().getName() + "', which "
          + keys.caBundle() + " does not hold: add it to " + keys.caBundle() + " (" + reason + ")";
    }
    return "the server certificate is not trusted by " + keys.caBundle() + " (" + reason + ")";
  }

  private static boolean signedBy(X509Certificate c, X509Certificate issuer) {
    try {
      c.verify(issuer.getPublicKey());
      return true;
    } catch (java.security.GeneralSecurityException e) {
      return false;
    }
  }

  /** Carries the enriched explanation through JSSE's exception wrapping. */
  static final class ServerCertificateRejectedException extends CertificateException {
    private static final long serialVersionUID = 1L;
    final boolean nameMismatch;

    ServerCertificateRejectedException(String message, boolean nameMismatch, Throwable cause) {
      super(message, cause);
      this.nameMismatch = nameMismatch;
    }
  }
}
