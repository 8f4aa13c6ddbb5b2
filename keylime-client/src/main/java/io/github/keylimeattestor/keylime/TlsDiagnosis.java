package io.github.keylimeattestor.keylime;

import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;

/**
 * Turns a failed HTTP exchange into the {@link KeylimeException} that names the fix. It goes by
 * exception type wherever the JDK has one (our trust manager's refusal, timeouts, connect and
 * resolve failures, the connection closed under us) and reads a message only where the JDK gives
 * nothing else: the TLS alert a server sent ({@code SSLException} carries it only as "Received
 * fatal alert: ..."), and the plain-HTTP hint ("Unsupported or unrecognized SSL message").
 */
final class TlsDiagnosis {

  /** TLS alerts by which a server says it does not accept the client's certificate. */
  private static final Set<String> CLIENT_CERT_ALERTS =
      Set.of(
          "bad_certificate",
          "unsupported_certificate",
          "certificate_revoked",
          "certificate_expired",
          "certificate_unknown",
          "unknown_ca",
          "access_denied",
          "certificate_required",
          "decrypt_error");

  private static final Pattern ALERT = Pattern.compile("Received fatal alert: ([a-z_]+)");

  /**
   * What an operator should check for an alert that is not about the client's certificate.
   * internal_error is the server's own failure, not a mismatch: an OpenSSL server verifying client
   * certificates without a session ID context (rust-keylime 0.2.9) sends it for every resumed session.
   */
  private static String alertHint(String alert) {
    return switch (alert) {
      case "internal_error" -> "the server failed on its side, and its log says why; a server that cannot resume TLS "
          + "sessions answers a resumed one this way (an OpenSSL server that checks client certificates without a "
          + "session ID context does)";
      default -> "check that both sides share a TLS version and cipher suite";
    };
  }

  private final String component;
  private final ClientSettings settings;

  TlsDiagnosis(String component, ClientSettings settings) {
    this.component = component;
    this.settings = settings;
  }

  /**
   * Why a connection timed out: a port that accepts TCP but never answers the TLS ClientHello is
   * almost always a plain-HTTP port (Keylime's tornado waits for an HTTP request line forever).
   */
  private String connectTimeoutHint(URI uri, long started) {
    // On JDK 17 the HttpClient resolves the host name on the caller's thread before its connect timer
    // means anything: a call that took well past the timeout spent that time in DNS, not on a port
    long took = System.nanoTime() - started;
    if (took > settings.timeout().toNanos() + TimeUnit.SECONDS.toNanos(1)) {
      return ", but took " + words(java.time.Duration.ofNanos(took)) + " in all: resolving the host name '"
          + uri.getHost() + "' is slow (DNS), which keylime_timeout does not bound; fix the resolver or give an IP "
          + "address (with tls.server_name for the certificate's name)";
    }
    int port = uri.getPort() > 0 ? uri.getPort() : 443;
    int probe = (int) Math.max(1, Math.min(1000, settings.timeout().toMillis()));
    try (java.net.Socket s = new java.net.Socket()) {
      s.connect(new java.net.InetSocketAddress(uri.getHost(), port), probe);
    } catch (java.io.IOException | IllegalArgumentException e) {
      return " (no TCP connection either: check the host, the port and firewalls)";
    }
    return ": the port accepts TCP connections but sent no TLS handshake, so it most likely serves plain "
        + "HTTP (e.g. the registrar's port, 8890 by default, instead of its tls_port, 8891): use the HTTPS port; "
        + "else the server is too busy to finish a handshake within keylime_timeout";
  }

  /** Maps an exception from the HTTP exchange (begun at {@code started}, nanoTime) to a Keylime exception. */
  KeylimeException classify(Throwable t, URI uri, long started) {
    // The most specific signal first: our trust manager's explanation of a refused server cert.
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof DiagnosingTrustManager.ServerCertificateRejectedException r) {
        return new KeylimeTlsException(
            "TLS to " + component + " at " + HttpTransport.shown(uri) + " refused by this client: " + r.getMessage(),
            uri,
            KeylimeTlsException.RefusedBy.CLIENT,
            t);
      }
    }
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof HttpConnectTimeoutException) {
        return new KeylimeUnavailableException(
            "connecting to " + component + " at " + HttpTransport.shown(uri) + " timed out after " + words(settings.timeout())
                + connectTimeoutHint(uri, started),
            uri, true, t);
      }
      if (c instanceof HttpTimeoutException) {
        return new KeylimeUnavailableException(
            component + " at " + HttpTransport.shown(uri) + " did not answer within " + words(settings.timeout()), uri, true, t);
      }
    }
    String alert = null;
    boolean sslSeen = false;
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof SSLException) {
        sslSeen = true;
        Matcher m = ALERT.matcher(String.valueOf(c.getMessage()));
        if (m.find()) {
          alert = m.group(1);
          break;
        }
      }
    }
    SingleClientKeyManager.CertificateRequest asked =
        settings.tls() == null ? null : settings.tls().lastCertificateRequest(uri.getHost(), port(uri));
    if (asked != null && asked.nanoTime() - started < 0) {
      asked = null; // from an earlier exchange
    }
    if (alert != null && CLIENT_CERT_ALERTS.contains(alert)) {
      return new KeylimeTlsException(
          "TLS to " + component + " at " + HttpTransport.shown(uri) + " refused by the server (alert " + alert + "): "
              + clientCertExplanation(alert, asked),
          uri, KeylimeTlsException.RefusedBy.SERVER, t);
    }
    if (alert == null && asked != null && closedUnderUs(t)) {
      // TLS 1.3: the server checks the client certificate after the client's Finished and may
      // just close the connection; it asked for a certificate in this very exchange.
      return new KeylimeTlsException(
          "TLS to " + component + " at " + HttpTransport.shown(uri) + " refused by the server (it closed the connection "
              + "right after asking for a client certificate): " + clientCertExplanation(null, asked),
          uri, KeylimeTlsException.RefusedBy.SERVER, t);
    }
    if (alert != null) {
      return new KeylimeTlsException(
          "TLS handshake with " + component + " at " + HttpTransport.shown(uri) + " failed (alert " + alert
              + "); " + alertHint(alert),
          uri, KeylimeTlsException.RefusedBy.UNKNOWN, t);
    }
    if (sslSeen) {
      SSLException ssl = firstOf(t, SSLException.class);
      String what = ssl == null ? String.valueOf(t.getMessage()) : ssl.getMessage();
      String hint =
          String.valueOf(what).contains("plaintext") || String.valueOf(what).contains("Unsupported or unrecognized")
              ? "; is " + uri.getPort() + " an HTTPS port? (the registrar's TLS port is tls_port, not port)"
              : "";
      return new KeylimeTlsException(
          "TLS handshake with " + component + " at " + HttpTransport.shown(uri) + " failed: " + what + hint,
          uri,
          KeylimeTlsException.RefusedBy.UNKNOWN,
          t);
    }
    Throwable root = rootOf(t);
    String why;
    if (firstOf(t, ConnectException.class) != null) {
      why = "connection refused or unreachable";
    } else if (firstOf(t, UnresolvedAddressException.class) != null
        || firstOf(t, java.net.UnknownHostException.class) != null) {
      why = "host name does not resolve";
    } else {
      why = root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
    }
    return new KeylimeUnavailableException(
        "cannot reach " + component + " at " + HttpTransport.shown(uri) + ": " + why, uri, false, t);
  }

  /**
   * The peer ended the connection: end of stream, reset, or the channel closed; not a connection
   * that never opened (ConnectException and NoRouteToHostException are SocketExceptions too).
   */
  private static boolean closedUnderUs(Throwable t) {
    if (firstOf(t, ConnectException.class) != null || firstOf(t, java.net.NoRouteToHostException.class) != null) {
      return false;
    }
    return firstOf(t, java.io.EOFException.class) != null
        || firstOf(t, java.net.SocketException.class) != null
        || firstOf(t, java.nio.channels.ClosedChannelException.class) != null;
  }

  private static int port(URI uri) {
    return uri.getPort() != -1 ? uri.getPort() : uri.getScheme().equalsIgnoreCase("https") ? 443 : 80;
  }

  private static Throwable rootOf(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root;
  }

  private String clientCertExplanation(String alert, SingleClientKeyManager.CertificateRequest asked) {
    TlsSettings tls = settings.tls();
    if (tls == null) {
      return "it requires a client certificate and none is configured";
    }
    return ClientCertificateRefusal.explain(alert, asked == null ? List.of() : asked.issuers(), tls);
  }

  static <X extends Throwable> X firstOf(Throwable t, Class<X> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    return null;
  }

  /** A timeout as the configuration writes it ("700ms", "3s"), not Java's "PT0.7S". */
  static String words(java.time.Duration d) {
    long ms = d.toMillis();
    return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
  }
}
