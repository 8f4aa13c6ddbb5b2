package io.github.keylimeattestor.keylime;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
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

  DiagnosingTrustManager(
      X509ExtendedTrustManager delegate, List<X509Certificate> anchors, String pinnedName) {
    this.delegate = delegate;
    this.anchors = anchors;
    this.pinnedName = pinnedName;
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
    try {
      delegate.checkServerTrusted(chain, authType, engine);
    } catch (CertificateException e) {
      throw rejected(chain, e, engine == null ? null : engine.getPeerHost(), sni(engine));
    }
    checkPinnedName(chain, engine == null ? null : engine.getPeerHost());
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
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
    boolean nameMismatch =
        reason.contains("No subject alternative") || reason.contains("No name matching");
    StringBuilder sb = new StringBuilder();
    if (nameMismatch) {
      sb.append("the server certificate does not name ")
          .append(sni != null ? "the configured tls_server_name '" + sni + "'" : "the host dialled '" + host + "'")
          .append(" (").append(reason).append("); set tls_server_name to a name the certificate carries");
    } else {
      sb.append("the server certificate is not trusted by the configured CA bundle (")
          .append(reason).append(")");
    }
    sb.append("; server presented: ").append(CertDescriptions.chain(chain));
    if (!nameMismatch) {
      sb.append("; trusted CAs: ").append(CertDescriptions.subjects(anchors));
    }
    return new ServerCertificateRejectedException(sb.toString(), nameMismatch, cause);
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
