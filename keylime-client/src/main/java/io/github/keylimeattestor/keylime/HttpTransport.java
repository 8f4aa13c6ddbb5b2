package io.github.keylimeattestor.keylime;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The HTTP layer of one component client: one {@link HttpClient} (HTTP/1.1, connections kept alive
 * in its pool) with its own TLS context (sessions resumed on new connections, unless made without
 * resumption: the Keylime agent client) and the worker
 * threads all transports share ({@link #WORKER_THREADS}), GET with a deadline
 * per exchange, a response-size cap, Keylime's answers read as JSON, and every failure turned into
 * a {@link KeylimeException} by {@link TlsDiagnosis}. Counts what it sends ({@link #counts()}).
 */
final class HttpTransport {

  /** Names the worker threads in thread dumps. */
  static final String WORKER_PREFIX = "keylime-http-worker-";

  /**
   * Worker threads shared by every transport in this JVM (the server plugin: registrar and
   * verifier). The HttpClient's work on them is short and non-blocking (TLS records, handshake
   * tasks, body chunks; callers wait on their own threads), so a few suffice; more than two so
   * that one peer whose host name resolves slowly does not hold up the other.
   */
  static final int WORKER_THREADS = 4;

  static final int MAX_BODY_BYTES = 4 * 1024 * 1024;

  private final String component;
  private final ClientSettings settings;
  private final HttpClient client;
  private final TlsDiagnosis diagnosis;
  private final LongAdder requests = new LongAdder();
  private final LongAdder tlsConnections = new LongAdder();
  private final LongAdder fullHandshakes = new LongAdder();

  HttpTransport(String component, ClientSettings settings) {
    this(component, settings, true);
  }

  /** {@code resumeTlsSessions} false: a full TLS handshake on every new connection (see {@link KeylimeAgentClient}). */
  HttpTransport(String component, ClientSettings settings, boolean resumeTlsSessions) {
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
            .connectTimeout(settings.timeout())
            .executor(Workers.POOL);
    if (settings.tls() != null) {
      try {
        b.sslContext(new CountingSslContext(settings.tls().newSslContext(fullHandshakes::increment),
            tlsConnections::increment, resumeTlsSessions));
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("TLS set up at configuration cannot be set up again: " + e, e);
      }
      b.sslParameters(settings.tls().sslParameters());
    }
    this.client = b.build();
    this.diagnosis = new TlsDiagnosis(component, settings);
  }

  /**
   * The shared workers, instead of a cached pool per HttpClient that starts a thread per
   * concurrent exchange and lets it die after a minute idle (re-created at the next attestation).
   * Created on first use; daemon threads that stay (an idle one costs no CPU).
   */
  private static final class Workers {
    static final ExecutorService POOL = newPool();

    private static ExecutorService newPool() {
      AtomicInteger n = new AtomicInteger();
      ThreadFactory named = r -> {
        Thread t = new Thread(r, WORKER_PREFIX + n.incrementAndGet());
        t.setDaemon(true);
        return t;
      };
      return new ThreadPoolExecutor(WORKER_THREADS, WORKER_THREADS, 0, TimeUnit.MILLISECONDS,
          new LinkedBlockingQueue<>(), named);
    }
  }

  TransportCounts counts() {
    return new TransportCounts(requests.sum(), tlsConnections.sum(), fullHandshakes.sum());
  }

  String component() {
    return component;
  }

  ClientSettings settings() {
    return settings;
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

  /**
   * {@code uri} as messages show it: without its query, which for verify/identity is the whole
   * URL-encoded quote (about 1.7 KB) and would bury what the message says.
   */
  static String shown(URI uri) {
    if (uri.getRawQuery() == null) {
      return uri.toString();
    }
    String s = uri.toString();
    return s.substring(0, s.indexOf("?")) + "?...";
  }

  static URI resolve(URI base, String pathAndQuery) {
    String b = base.toString();
    while (b.endsWith("/")) {
      b = b.substring(0, b.length() - 1);
    }
    return URI.create(b + pathAndQuery);
  }

  /** A parsed 2xx answer. */
  record Answer(URI uri, int status, Json body) {}

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
    try (JsonParser p = Json.FACTORY.createParser(body.stream())) {
      return reader.read(uri, p);
    } catch (JsonProcessingException e) {
      throw new KeylimeMalformedResponseException(
          component + " at " + shown(uri) + " answered invalid JSON: " + e.getOriginalMessage(), uri, e);
    } catch (IOException e) {
      throw new KeylimeMalformedResponseException(
          component + " at " + shown(uri) + " answered an unreadable body: " + e.getMessage(), uri, e);
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
    requests.increment();
    // send(), not sendAsync(): on a JDK 17 with a one-thread common pool (2 cores), sendAsync hands
    // every answer over through a new thread (its ASYNC_POOL is then thread-per-task); send() completes
    // on the HttpClient's own threads and wakes this caller directly.
    long deadline = started + timeout.toNanos() + TimeUnit.MILLISECONDS.toNanos(250);
    try {
      // the request timeout covers the headers; the body's deadline (LimitedBody) the rest
      return client.send(req, info -> new LimitedBody(info.statusCode(), maxBytes, deadline)).body();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new KeylimeUnavailableException(
          "interrupted while calling " + component + " at " + shown(uri), uri, false, e);
    } catch (IOException | RuntimeException e) {
      BodyTooLargeException tooLarge = TlsDiagnosis.firstOf(e, BodyTooLargeException.class);
      if (tooLarge != null) {
        throw new KeylimeMalformedResponseException(
            component + " at " + shown(uri) + " sent a response body larger than " + tooLarge.limit + " bytes", uri, e, true);
      }
      if (TlsDiagnosis.firstOf(e, TimeoutException.class) != null) {
        throw new KeylimeUnavailableException(
            component + " at " + shown(uri) + " did not answer within " + TlsDiagnosis.words(timeout), uri, true, e);
      }
      throw diagnosis.classify(e, uri, started);
    }
  }

  private Answer interpret(URI uri, int status, byte[] body) throws KeylimeException {
    if (status >= 200 && status < 300) {
      Json json = parseJson(uri, body);
      return new Answer(uri, status, json);
    }
    Json error = errorJson(body);
    String msg = keylimeMessage(body, error);
    if (status >= 400 && status < 500) {
      boolean envelope = keylimeEnvelope(error);
      throw new KeylimeApiException(
          component + " at " + shown(uri) + " answered HTTP " + status + (msg.isEmpty() ? "" : ": " + msg)
              + (envelope ? "" : " (not Keylime's JSON answer: is the URL the " + component + "'s base URL, "
                  + "https://host:port with no path?)"),
          uri,
          status,
          msg,
          envelope);
    }
    if (status >= 500) {
      throw new KeylimeUnavailableException(
          component + " at " + shown(uri) + " answered HTTP " + status + (msg.isEmpty() ? "" : ": " + msg),
          uri,
          false,
          null);
    }
    throw new KeylimeMalformedResponseException(
        component + " at " + shown(uri) + " answered unexpected HTTP " + status, uri, null);
  }

  private Json parseJson(URI uri, byte[] body) throws KeylimeMalformedResponseException {
    try {
      Json n = Json.parse(body);
      if (!n.isObject()) {
        throw new KeylimeMalformedResponseException(
            component + " at " + shown(uri) + " answered something that is not a JSON object", uri, null);
      }
      return n;
    } catch (JsonProcessingException e) {
      throw new KeylimeMalformedResponseException(
          component + " at " + shown(uri) + " answered invalid JSON: " + e.getOriginalMessage(), uri, e);
    } catch (IOException e) {
      throw new KeylimeMalformedResponseException(
          component + " at " + shown(uri) + " answered an unreadable body: " + e.getMessage(), uri, e);
    }
  }

  /** An error body as JSON, or null if it is empty or not JSON. */
  private static Json errorJson(byte[] body) {
    if (body == null || body.length == 0) {
      return null;
    }
    try {
      return Json.parse(body);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Whether an error body is Keylime's JSON envelope: {@code {"code": N, "status": ...}} or {@code {"errors": [...]}}. */
  private static boolean keylimeEnvelope(Json n) {
    return n != null && n.isObject() && ((n.get("code") != null && n.get("code").isNumber())
        || (n.get("errors") != null && n.get("errors").isArray()));
  }

  /**
   * Keylime's message from an error body: the envelope's {@code status} (legacy handlers and the
   * agent), or the {@code errors[].detail/title} of the newer handlers, else a sanitised excerpt.
   */
  private static String keylimeMessage(byte[] body, Json n) {
    if (body == null || body.length == 0) {
      return "";
    }
    try {
      if (n != null && n.isObject()) {
        Json errors = n.get("errors");
        if (errors != null && errors.isArray() && errors.size() > 0) {
          List<String> parts = new ArrayList<>();
          for (Json e : errors.elements()) {
            String d = e.path("detail").asText("");
            parts.add(d.isEmpty() ? e.path("title").asText("") : d);
          }
          return sanitize(String.join("; ", parts));
        }
        Json status = n.get("status");
        if (status != null && status.isTextual()) {
          return sanitize(status.asText());
        }
      }
    } catch (RuntimeException e) {
      // JSON of another shape: fall through to the raw excerpt
    }
    return sanitize(new String(body, 0, Math.min(body.length, 300), StandardCharsets.UTF_8));
  }

  private static String sanitize(String s) {
    String t = s.replaceAll("[\\p{Cntrl}&&[^\t]]", " ").strip();
    return t.length() > 500 ? t.substring(0, 500) + "..." : t;
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
    private volatile Flow.Subscription subscription;

    LimitedBody(int status, int maxBytes) {
      this.status = status;
      this.maxBytes = maxBytes;
    }

    /** Also refused (TimeoutException) if not complete by {@code deadline} (System.nanoTime). */
    LimitedBody(int status, int maxBytes, long deadline) {
      this(status, maxBytes);
      result.orTimeout(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS).whenComplete((r, t) -> {
        Flow.Subscription s = subscription;
        if (t != null && s != null) {
          s.cancel();
        }
      });
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
}
