package io.github.keylimeattestor.keylime;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;

/**
 * An in-JVM HTTPS server standing in for a Keylime component in unit tests: it serves canned
 * Keylime-shaped answers so the client's parsing and TLS error paths can be tested without a
 * Keylime installation. (The same client is exercised against the real Keylime verifier and
 * registrar in the integration tests.)
 */
final class FakeKeylimeServer implements AutoCloseable {

  record Reply(int status, String body) {}

  @FunctionalInterface
  interface Route {
    Reply handle(HttpExchange ex) throws IOException;
  }

  private final HttpServer server;
  private final Map<String, Route> routes = new ConcurrentHashMap<>();
  final List<URI> requests = new CopyOnWriteArrayList<>();
  final List<String> clientSubjects = new CopyOnWriteArrayList<>();

  /** HTTPS, with the given server identity; client certificates required if {@code clientCa}. */
  FakeKeylimeServer(TestPki.Issued serverId, X509Certificate clientCa) throws Exception {
    HttpsServer s = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("server", serverId.key(), "pw".toCharArray(), new X509Certificate[] {serverId.cert()});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
    kmf.init(ks, "pw".toCharArray());
    SSLContext ctx = SSLContext.getInstance("TLS");
    javax.net.ssl.TrustManager[] tms = null;
    if (clientCa != null) {
      KeyStore ts = KeyStore.getInstance("PKCS12");
      ts.load(null, null);
      ts.setCertificateEntry("ca", clientCa);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(ts);
      tms = tmf.getTrustManagers();
    }
    ctx.init(kmf.getKeyManagers(), tms, new SecureRandom());
    s.setHttpsConfigurator(
        new HttpsConfigurator(ctx) {
          @Override
          public void configure(HttpsParameters params) {
            SSLParameters p = ctx.getDefaultSSLParameters();
            p.setNeedClientAuth(clientCa != null);
            params.setSSLParameters(p);
          }
        });
    this.server = s;
    start();
  }

  /** Plain HTTP (only for the agent client's explicit http:// mode and for negative tests). */
  FakeKeylimeServer() throws IOException {
    this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    start();
  }

  private void start() {
    server.createContext(
        "/",
        ex -> {
          try (ex) {
            requests.add(ex.getRequestURI());
            if (ex instanceof com.sun.net.httpserver.HttpsExchange hx) {
              try {
                var peer = hx.getSSLSession().getPeerCertificates();
                clientSubjects.add(((X509Certificate) peer[0]).getSubjectX500Principal().getName());
              } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                clientSubjects.add("(none)");
              }
            }
            Route r = routes.get(ex.getRequestURI().getPath());
            Reply reply =
                r == null
                    ? new Reply(404, "{\"code\":404,\"status\":\"Not Implemented: Use /agents/ interface\",\"results\":{}}")
                    : r.handle(ex);
            byte[] b = reply.body().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(reply.status(), b.length == 0 ? -1 : b.length);
            if (b.length > 0) {
              ex.getResponseBody().write(b);
            }
          }
        });
    server.start();
  }

  FakeKeylimeServer route(String path, int status, String body) {
    routes.put(path, ex -> new Reply(status, body));
    return this;
  }

  FakeKeylimeServer route(String path, Route r) {
    routes.put(path, r);
    return this;
  }

  /** Keylime verifier/registrar-style /version. */
  FakeKeylimeServer keylimeVersion(String current, String... supported) {
    StringBuilder sb = new StringBuilder();
    for (String v : supported) {
      sb.append(sb.length() == 0 ? "" : ",").append('"').append(v).append('"');
    }
    return route(
        "/version",
        200,
        "{\"code\":200,\"status\":\"Success\",\"results\":{\"current_version\":\""
            + current
            + "\",\"supported_versions\":["
            + sb
            + "]}}");
  }

  URI uri() {
    String scheme = server instanceof HttpsServer ? "https" : "http";
    return URI.create(scheme + "://127.0.0.1:" + server.getAddress().getPort());
  }

  URI uriAs(String scheme, String host) {
    return URI.create(scheme + "://" + host + ":" + server.getAddress().getPort());
  }

  @Override
  public void close() {
    server.stop(0);
  }

  static String envelope(String results) {
    return "{\"code\":200,\"status\":\"Success\",\"results\":" + results + "}";
  }
}
