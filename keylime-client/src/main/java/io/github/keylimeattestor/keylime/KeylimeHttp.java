package io.github.keylimeattestor.keylime;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;

/**
 * The shared HTTP layer: one pooled {@link HttpClient} per component client, GET with a deadline
 * per exchange, a response-size cap, failover across base URLs, and translation of every failure
 * into a {@link KeylimeException} subtype.
 */
final class KeylimeHttp {

  static final int MAX_BODY_BYTES = 4 * 1024 * 1024;

  static final ObjectMapper JSON =
      new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

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

  /** One attempt against one base URL. */
  @FunctionalInterface
  interface Call<T> {
    T apply(URI base) throws KeylimeException;
  }

  private final String component;
  private final ClientSettings settings;
  private final HttpClient client;

  KeylimeHttp(String component, ClientSettings settings) {
    String off = System.getProperty("jdk.internal.httpclient.disableHostnameVerification");
    if (off != null && !off.equalsIgnoreCase("false")) {
      throw new IllegalStateException(
          "refusing to run with -Djdk.internal.httpclient.disableHostnameVerification: "
              + "it turns off server name checks for every HTTPS call in this JVM");
    }
    this.component = component;
    this.settings = settings;
    HttpClient.Builder b =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(settings.timeout());
    if (settings.tls() != null) {
      b.sslContext(settings.tls().sslContext()).sslParameters(settings.tls().sslParameters());
    }
    this.client = b.build();
  }

  String component() {
    return component;
  }

  ClientSettings settings() {
    return settings;
  }

  /**
   * Runs {@code call} against each base URL in turn until one gives an answer. Moves on to the
   * next URL when one is unavailable or its TLS handshake fails; a Keylime answer (success, 4xx,
   * malformed) ends the loop.
   */
  <T> T withFailover(Call<T> call) throws KeylimeException {
    List<KeylimeException> failures = new ArrayList<>();
    for (URI base : settings.urls()) {
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

  /** URL-encodes query parameters (the quote string contains {@code + / =}). */
  static String query(Map<String, String> params) {
    StringBuilder sb = new StringBuilder();
    for (var e : params.entrySet()) {
      sb.append(sb.length() == 0 ? '?' : '&')
          .append(encode(e.getKey()))
          .append('=')
          .append(encode(e.getValue()));
    }
    return sb.toString();
  }

  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  static URI resolve(URI base, String pathAndQuery) {
    String b = base.toString();
    while (b.endsWith("/")) {
      b = b.substring(0, b.length() - 1);
    }
    return URI.create(b + pathAndQuery);
  }

  /** A parsed 2xx answer. */
  record Answer(URI uri, int status, JsonNode body) {}

  /**
   * GETs {@code base + pathAndQuery} and returns the parsed JSON body of a 2xx answer. 4xx answers
   * become {@link KeylimeApiException}, 5xx {@link KeylimeUnavailableException}.
   */
  Answer get(URI base, String pathAndQuery) throws KeylimeException {
    URI uri = resolve(base, pathAndQuery);
    LimitedBody body = exchange(uri, MAX_BODY_BYTES);
    return interpret(uri, body.status, body.bytes());
  }

  /** Reads a 2xx JSON body as a stream (for large answers: no tree of the whole body). */
  @FunctionalInterface
  interface StreamReader<T> {
    T read(URI uri, JsonParser parser) throws IOException, KeylimeException;
  }

  /**
   * As {@link #get} for answers up to {@code maxBytes}, handed to {@code reader} as a JSON stream
   * over the received chunks (the body is not copied into one array).
   */
  <T> T getStreaming(URI base, String pathAndQuery, int maxBytes, StreamReader<T> reader)
      throws KeylimeException {
    URI uri = resolve(base, pathAndQuery);
    LimitedBody body = exchange(uri, maxBytes);
    if (body.status < 200 || body.status >= 300) {
      interpret(uri, body.status, body.bytes());
    }
    try (JsonParser p = JSON.createParser(body.stream())) {
      return reader.read(uri, p);
    } catch (JsonProcessingException e) {
      throw new KeylimeMalformedResponseException(
          component + " at " + uri + " answered invalid JSON: " + e.getOriginalMessage(), uri, e);
    } catch (IOException e) {
      throw new KeylimeMalformedResponseException(
          component + " at " + uri + " answered an unreadable body: " + e.getMessage(), uri, e);
    }
  }

  private LimitedBody exchange(URI uri, int maxBytes) throws KeylimeException {
    Duration timeout = settings.timeout();
    HttpRequest req =
        HttpRequest.newBuilder(uri)
            .GET()
            .timeout(timeout)
            .header("Accept", "application/json")
            .build();
    long started = System.nanoTime();
    CompletableFuture<HttpResponse<LimitedBody>> f =
        client.sendAsync(req, info -> new LimitedBody(info.statusCode(), maxBytes));
    try {
      // the request timeout covers the headers; this deadline also covers the body
      return f.get(timeout.toMillis() + 250, java.util.concurrent.TimeUnit.MILLISECONDS).body();
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new KeylimeUnavailableException(
          component + " at " + uri + " did not answer within " + timeout, uri, true, e);
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw new KeylimeUnavailableException(
          "interrupted while calling " + component + " at " + uri, uri, false, e);
    } catch (ExecutionException e) {
      throw classify(e.getCause() == null ? e : e.getCause(), uri, started);
    }
  }

  private Answer interpret(URI uri, int status, byte[] body) throws KeylimeException {
    if (status >= 200 && status < 300) {
      JsonNode json = parseJson(uri, body);
      return new Answer(uri, status, json);
    }
    String msg = keylimeMessage(body);
    if (status >= 400 && status < 500) {
      throw new KeylimeApiException(
          component + " at " + uri + " answered HTTP " + status + (msg.isEmpty() ? "" : ": " + msg),
          uri,
          status,
          msg);
    }
    if (status >= 500) {
      throw new KeylimeUnavailableException(
          component + " at " + uri + " answered HTTP " + status + (msg.isEmpty() ? "" : ": " + msg),
          uri,
          false,
          null);
    }
    throw new KeylimeMalformedResponseException(
        component + " at " + uri + " answered unexpected HTTP " + status, uri, null);
  }

  private JsonNode parseJson(URI uri, byte[] body) throws KeylimeMalformedResponseException {
    try {
      JsonNode n = JSON.readTree(body);
      if (n == null || !n.isObject()) {
        throw new KeylimeMalformedResponseException(
            component + " at " + uri + " answered something that is not a JSON object", uri, null);
      }
      return n;
    } catch (JsonProcessingException e) {
      throw new KeylimeMalformedResponseException(
          component + " at " + uri + " answered invalid JSON: " + e.getOriginalMessage(), uri, e);
    } catch (IOException e) {
      throw new KeylimeMalformedResponseException(
          component + " at " + uri + " answered an unreadable body: " + e.getMessage(), uri, e);
    }
  }

  /**
   * Keylime's message from an error body: the envelope's {@code status} (legacy handlers and the
   * agent), or the {@code errors[].detail/title} of the newer handlers, else a sanitised excerpt.
   */
  static String keylimeMessage(byte[] body) {
    if (body == null || body.length == 0) {
      return "";
    }
    try {
      JsonNode n = JSON.readTree(body);
      if (n != null && n.isObject()) {
        JsonNode errors = n.get("errors");
        if (errors != null && errors.isArray() && errors.size() > 0) {
          List<String> parts = new ArrayList<>();
          for (JsonNode e : errors) {
            String d = e.path("detail").asText("");
            parts.add(d.isEmpty() ? e.path("title").asText("") : d);
          }
          return sanitize(String.join("; ", parts));
        }
        JsonNode status = n.get("status");
        if (status != null && status.isTextual()) {
          return sanitize(status.asText());
        }
      }
    } catch (IOException | RuntimeException e) {
      // not JSON: fall through to the raw excerpt
    }
    return sanitize(new String(body, 0, Math.min(body.length, 300), StandardCharsets.UTF_8));
  }

  private static String sanitize(String s) {
    String t = s.replaceAll("[\\p{Cntrl}&&[^\t]]", " ").strip();
    return t.length() > 500 ? t.substring(0, 500) + "..." : t;
  }

  /**
   * Why a connection timed out: a port that accepts TCP but never answers the TLS ClientHello is
   * almost always a plain-HTTP port (Keylime's tornado waits for an HTTP request line forever).
   */
  private String connectTimeoutHint(URI uri) {
    int port = uri.getPort() > 0 ? uri.getPort() : 443;
    int probe = (int) Math.max(1, Math.min(1000, settings.timeout().toMillis()));
    try (java.net.Socket s = new java.net.Socket()) {
      s.connect(new java.net.InetSocketAddress(uri.getHost(), port), probe);
    } catch (java.io.IOException | IllegalArgumentException e) {
      return " (no TCP connection either: check the host, the port and firewalls)";
    }
    return ": the port accepts TCP connections but sent no TLS handshake, so it most likely serves plain HTTP "
        + "(e.g. the registrar's port, 8890 by default, instead of its tls_port, 8891): use the HTTPS port";
  }

  /** Maps an exception from the HTTP exchange to a Keylime exception. */
  KeylimeException classify(Throwable t, URI uri, long started) {
    BodyTooLargeException tooLarge = firstOf(t, BodyTooLargeException.class);
    if (tooLarge != null) {
      return new KeylimeMalformedResponseException(
          component + " at " + uri + " sent a response body larger than " + tooLarge.limit + " bytes",
          uri, t);
    }
    // The most specific signal first: our trust manager's explanation of a refused server cert.
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof DiagnosingTrustManager.ServerCertificateRejectedException r) {
        return new KeylimeTlsException(
            "TLS to " + component + " at " + uri + " refused by this client: " + r.getMessage(),
            uri,
            KeylimeTlsException.RefusedBy.CLIENT,
            t);
      }
    }
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof HttpConnectTimeoutException) {
        return new KeylimeUnavailableException(
            "connecting to " + component + " at " + uri + " timed out after " + settings.timeout()
                + connectTimeoutHint(uri),
            uri, true, t);
      }
      if (c instanceof HttpTimeoutException) {
        return new KeylimeUnavailableException(
            component + " at " + uri + " did not answer within " + settings.timeout(), uri, true, t);
      }
    }
    String alert = null;
    boolean sslSeen = false;
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof SSLException) {
        sslSeen = true;
      }
      Matcher m = ALERT.matcher(String.valueOf(c.getMessage()));
      if (m.find()) {
        alert = m.group(1);
        break;
      }
    }
    SingleClientKeyManager.CertificateRequest asked =
        settings.tls() == null ? null : settings.tls().lastCertificateRequest(port(uri));
    if (asked != null && asked.nanoTime() - started < 0) {
      asked = null; // from an earlier exchange
    }
    if (alert != null && CLIENT_CERT_ALERTS.contains(alert)) {
      return new KeylimeTlsException(
          "TLS to " + component + " at " + uri + " refused by the server (alert " + alert + "): "
              + clientCertExplanation(alert, asked),
          uri, KeylimeTlsException.RefusedBy.SERVER, t);
    }
    if (alert == null
        && asked != null
        && (firstOf(t, java.io.EOFException.class) != null
            || String.valueOf(rootOf(t).getMessage()).contains("reset")
            || String.valueOf(rootOf(t).getMessage()).contains("closed"))) {
      // TLS 1.3: the server checks the client certificate after the client's Finished and may
      // just close the connection; it asked for a certificate in this very exchange.
      return new KeylimeTlsException(
          "TLS to " + component + " at " + uri + " refused by the server (it closed the connection "
              + "right after asking for a client certificate): " + clientCertExplanation(null, asked),
          uri, KeylimeTlsException.RefusedBy.SERVER, t);
    }
    if (alert != null) {
      return new KeylimeTlsException(
          "TLS handshake with " + component + " at " + uri + " failed (alert " + alert
              + "); check that both sides share a TLS version and cipher suite",
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
          "TLS handshake with " + component + " at " + uri + " failed: " + what + hint,
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
        "cannot reach " + component + " at " + uri + ": " + why, uri, false, t);
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

  private static <X extends Throwable> X firstOf(Throwable t, Class<X> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    return null;
  }

  static final class BodyTooLargeException extends IOException {
    private static final long serialVersionUID = 1L;
    final int limit;

    BodyTooLargeException(int limit) {
      super("response body larger than " + limit + " bytes");
      this.limit = limit;
    }
  }

  /**
   * The response status and its body, refused beyond {@code maxBytes}; kept as the received
   * chunks so that a large body is never copied whole.
   */
  static final class LimitedBody implements HttpResponse.BodySubscriber<LimitedBody> {
    final int status;
    private final int maxBytes;
    private final CompletableFuture<LimitedBody> result = new CompletableFuture<>();
    private final List<byte[]> chunks = new ArrayList<>();
    private long size;
    private Flow.Subscription subscription;

    LimitedBody(int status, int maxBytes) {
      this.status = status;
      this.maxBytes = maxBytes;
    }

    byte[] bytes() {
      byte[] out = new byte[(int) size];
      int at = 0;
      for (byte[] c : chunks) {
        System.arraycopy(c, 0, out, at, c.length);
        at += c.length;
      }
      return out;
    }

    java.io.InputStream stream() {
      return new java.io.SequenceInputStream(java.util.Collections.enumeration(
          chunks.stream().map(java.io.ByteArrayInputStream::new).toList()));
    }

    @Override
    public CompletionStage<LimitedBody> getBody() {
      return result;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
      for (ByteBuffer b : items) {
        if (size + b.remaining() > maxBytes) {
          subscription.cancel();
          result.completeExceptionally(new BodyTooLargeException(maxBytes));
          return;
        }
        byte[] chunk = new byte[b.remaining()];
        b.get(chunk);
        chunks.add(chunk);
        size += chunk.length;
      }
    }

    @Override
    public void onError(Throwable t) {
      result.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      result.complete(this);
    }
  }

  static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }
}
