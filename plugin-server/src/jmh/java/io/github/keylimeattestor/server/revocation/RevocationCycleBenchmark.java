package io.github.keylimeattestor.server.revocation;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.Pem;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.keylime.VerifierClient;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One revocation-watch cycle over 10,000 watched agents: the verifier's bulk answer fetched over
 * HTTPS from a local server, streamed through the parser, and every node judged. The answer is the
 * record of a real Keylime 7.14.3 verifier (keylime-client/src/test/resources/keylime-7.14.3),
 * repeated under 10,000 UUIDs; every node passes, so SPIRE is not called (its stand-in counts calls).
 * The {@code launcher} fork runs with the plugin launcher's JVM flags (C1 only, SerialGC, 64 MB heap).
 *
 * <pre>
 * ./mvnw -q -pl plugin-server -am install -DskipTests -DskipITs
 * ./mvnw -q -pl plugin-server -Pjmh test-compile exec:exec@jmh
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class RevocationCycleBenchmark {
  static final String RECORDED = "keylime-client/src/test/resources/keylime-7.14.3/verifier-bulk-pass.json";
  static final String RECORDED_UUID = "7d0a5d5e-4c3a-4b64-9a40-0c1f5e1d2a01";

  @Param("10000")
  int agents;

  HttpsServer server;
  RevocationWatch watch;
  final List<String> spireCalls = new ArrayList<>();

  @Setup
  public void setup() throws Exception {
    // run from plugin-server/ (Maven) or from the project root (java -cp ... org.openjdk.jmh.Main)
    Path file = Files.exists(Path.of("..", RECORDED)) ? Path.of("..", RECORDED) : Path.of(RECORDED);
    String recorded = Files.readString(file);
    String record = recorded.substring(recorded.indexOf("{\"operational_state\""), recorded.lastIndexOf("}}"));
    List<String> uuids = new ArrayList<>();
    StringBuilder body = new StringBuilder("{\"code\": 200, \"status\": \"Success\", \"results\": {");
    for (int i = 0; i < agents; i++) {
      String u = RECORDED_UUID.substring(0, 24) + String.format("%012d", i);
      uuids.add(u);
      body.append(i == 0 ? "" : ", ").append('"').append(u).append("\": ").append(record);
    }
    byte[] answer = body.append("}}").toString().getBytes(StandardCharsets.UTF_8);
    System.err.printf("bulk answer: %d agents, %.1f MB%n", agents, answer.length / 1e6);

    Path dir = Files.createTempDirectory("revocation-bench");
    Path cert = dir.resolve("cert.pem");
    Path key = dir.resolve("key.pem");
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", key.toString(), "-out", cert.toString()).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    if (p.waitFor() != 0) {
      throw new IllegalStateException("openssl failed");
    }
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    List<X509Certificate> chain = Pem.readCertificates(cert);
    ks.setKeyEntry("k", Pem.readPrivateKey(key, null), new char[0], chain.toArray(new X509Certificate[0]));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, new char[0]);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(kmf.getKeyManagers(), null, null);
    server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    server.setHttpsConfigurator(new HttpsConfigurator(ssl));
    byte[] version = "{\"code\": 200, \"status\": \"Success\", \"results\": {\"current_version\": \"2.5\", \"supported_versions\": [\"2.5\"]}}"
        .getBytes(StandardCharsets.UTF_8);
    server.createContext("/", ex -> {
      try (ex) {
        byte[] b = ex.getRequestURI().getPath().equals("/version") ? version : answer;
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, b.length);
        ex.getResponseBody().write(b);
      }
    });
    server.start();

    TlsSettings tls = TlsSettings.builder().caBundle(cert).clientCertificate(cert, key, null).build();
    VerifierClient client = new VerifierClient(new ClientSettings(
        List.of(URI.create("https://127.0.0.1:" + server.getAddress().getPort())), tls, Duration.ofSeconds(30),
        Optional.empty()));
    SpireAgents spire = new SpireAgents() {
      @Override
      public Result act(RevocationConfig.Action action, String spiffeId) {
        spireCalls.add(spiffeId);
        return Result.DONE;
      }

      @Override
      public List<AttestedNode> keylimeAgents() {
        return List.of();
      }

      @Override
      public void close() {}
    };
    watch = new RevocationWatch(new RevocationConfig(RevocationConfig.Action.EVICT, Duration.ofSeconds(2),
        Path.of("/nonexistent"), true, true, Duration.ZERO), VerifierSource.over(client), spire,
        new RevocationMetrics());
    for (String u : uuids) {
      watch.attested(new AttestedNode("spiffe://example.org/spire/agent/keylime/" + u, u, Optional.of("default")));
    }
    RevocationWatch.Cycle c = watch.cycle();
    if (c.watched() != agents || c.requests() != 1 || c.acted() != 0 || c.verifierUnavailable()) {
      throw new IllegalStateException("unexpected cycle " + c);
    }
  }

  @TearDown
  public void tearDown() {
    server.stop(0);
    if (!spireCalls.isEmpty()) {
      throw new IllegalStateException("the watch acted on passing nodes: " + spireCalls.size());
    }
  }

  @Benchmark
  public Object cycle() {
    return watch.cycle();
  }

  @Benchmark
  @Fork(value = 1, jvmArgsAppend = {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:CICompilerCount=1",
      "-Xss256k", "-Xms4m", "-Xmn2m", "-Xmx64m", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30",
      "-XX:-ShrinkHeapInSteps"})
  public Object cycleWithLauncherFlags() {
    return watch.cycle();
  }
}
