package io.github.keylimeattestor.keylime.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.github.keylimeattestor.keylime.ApiVersion;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Sha256;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.TpmException;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.testing.AgentDataWriter;
import io.github.keylimeattestor.tpm.testing.CredentialBlob;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.transport.Tcti;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;

/**
 * A Keylime pull-mode agent emulator for tests: it does what rust-keylime's agent does for
 * identity attestation, on a real TPM (swtpm) through the project's {@code tpm} module.
 *
 * <ol>
 *   <li>reads the EK (persistent 0x81010001, else TCG template L-1) and its certificate from NV;
 *   <li>reuses the AK from {@code agent_data.json} if it matches the EK and algorithms, else creates
 *       one under the EK and writes {@code agent_data.json} in rust-keylime's format;
 *   <li>registers with the registrar (EK, EK certificate, AK, mTLS certificate, contact address),
 *       recovers the credential with TPM2_ActivateCredential and activates with the HMAC auth tag;
 *   <li>serves {@code /version}, {@code /v2.x/agent/info}, {@code /v2.x/quotes/identity},
 *       {@code /v2.x/quotes/integrity} (and accepts the tenant's/verifier's key shares) over HTTPS
 *       with mandatory client certificates.
 * </ol>
 *
 * Every quote resets PCR 16 and extends it with the hash of the NK public key PEM, then quotes PCR
 * 16 (plus the PCRs in {@code mask}) with the nonce as qualifying data. Not emulated: IMA and
 * measured-boot logs, payload decryption and execution, revocation actions.
 *
 * <p>With {@link EmulatorConfig#push()} it is a push-mode agent instead (rust-keylime's {@code
 * keylime_push_model_agent}): it registers as above, serves nothing, and {@link PushAttestor} pushes
 * evidence to the verifier with the AK held loaded.
 */
public final class KeylimeAgentEmulator implements AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern VERSIONED = Pattern.compile("/v(\\d+\\.\\d+)(/.*)");
  private static final Pattern NONCE = Pattern.compile("[A-Za-z0-9]{1,64}");
  private static final Pattern MASK = Pattern.compile("(0x)?[0-9a-fA-F]{1,8}");
  private static final int HASH_ALG = Alg.SHA256;

  private final EmulatorConfig config;
  private final Tpm tpm;
  private final KeylimeTpm ktpm;
  private final KeylimeAgentTpm agentTpm;
  private final AgentKeys keys;
  private final KeyBlob ak;
  /** The AK held loaded for the emulator's life (--resident-ak), else null: loaded per request. */
  private final ResidentAk residentAk;
  /** Pull mode: the agent API; null in push mode. */
  private final HttpsServer server;
  /** Push mode: the loop that pushes evidence to the verifier; null in pull mode. */
  private final PushAttestor pusher;
  private final ExecutorService executor;
  private final Object tpmLock = new Object();

  /**
   * One lock file for every emulator on this host, whatever its TPM (a quote takes milliseconds, so
   * serialising all of them costs nothing; one file per TPM would leave a file per test TPM behind).
   */
  private static Path pcr16LockFile() {
    return Path.of(System.getProperty("java.io.tmpdir"), "keylime-emulator-pcr16.lock");
  }
  private volatile int quotes;

  private KeylimeAgentEmulator(EmulatorConfig config) throws Exception {
    this.config = config;
    Files.createDirectories(config.keylimeDir());
    this.tpm = new Tpm(Tcti.open(config.tcti(), 60_000));
    this.ktpm = new KeylimeTpm(tpm);
    this.agentTpm = new KeylimeAgentTpm(ktpm);
    try {
      this.keys = AgentKeys.loadOrCreate(config.keylimeDir(), config.uuid(), config.ip());
      TpmPublic ekPublic = ktpm.ekPublic();
      this.ak = loadOrCreateAk(ekPublic);
      if (config.residentAk()) {
        this.residentAk = ResidentAk.load(tpm, ak);
        log(String.format("AK loaded as transient object 0x%08x; it stays loaded, also after exit (as rust-keylime's)",
            residentAk.handle()));
      } else {
        this.residentAk = null;
      }
      if (config.push() != null) {
        // Push mode serves nothing (as keylime_push_model_agent): register, then push to the verifier.
        this.server = null;
        this.executor = null;
        register(ekPublic);
        this.pusher = new PushAttestor(config.push(), config.uuid(), ktpm, residentAk, tpmLock, Duration.ofSeconds(1));
        pusher.start();
        return;
      }
      this.pusher = null;
      // Listen before registering so the port is known; serve requests only after activation.
      this.server = HttpsServer.create(
          new InetSocketAddress(InetAddress.getByName(config.ip()), config.port()), 16);
      this.executor = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "keylime-emulator");
        t.setDaemon(true);
        return t;
      });
      server.setHttpsConfigurator(new MtlsConfigurator(sslContext()));
      server.setExecutor(executor);
      register(ekPublic);
      server.createContext("/", this::handle);
      server.start();
    } catch (Exception e) {
      tpm.close();
      throw e;
    }
  }

  /** Registers, activates and starts serving. */
  public static KeylimeAgentEmulator start(EmulatorConfig config) throws Exception {
    return new KeylimeAgentEmulator(config);
  }

  /** The pull API's port; in push mode the configured contact port sent to the registrar. */
  public int port() {
    return server != null ? server.getAddress().getPort() : config.port();
  }

  public String uuid() {
    return config.uuid();
  }

  /** Quotes served so far (identity and integrity). */
  public int quotesServed() {
    return quotes;
  }

  /** Stops serving and closes the TPM connection. A resident AK is not flushed (rust-keylime does not). */
  @Override
  public void close() throws IOException {
    if (pusher != null) {
      pusher.close();
    } else {
      server.stop(0);
      executor.shutdownNow();
    }
    tpm.close();
  }

  // ------------------------------------------------------------------ AK and agent_data.json

  /**
   * Reuses the AK in agent_data.json when it matches, else creates one; either way rewrites the
   * file, as rust-keylime does at every start, and as it does non-atomically (truncate, then
   * several writes), so a reader may see it empty or half-written meanwhile.
   */
  private KeyBlob loadOrCreateAk(TpmPublic ekPublic) throws IOException, TpmException {
    Path file = config.keylimeDir().resolve("agent_data.json");
    String ekHash = AgentData.ekHash(ekPublic.toPublicKey());
    KeyBlob blob = null;
    if (Files.exists(file)) {
      try {
        AgentData d = AgentData.read(file);
        if (d.akHashAlg().equals("Sha256") && d.akSignAlg().equals("RsaSsa")
            && d.ekHashText().equals(ekHash)) {
          log("reusing the AK from " + file);
          blob = d.akBlob();
        } else {
          log(file + " does not match this EK/algorithms; creating a new AK");
        }
      } catch (io.github.keylimeattestor.tpm.TpmFormatException e) {
        log("cannot use " + file + " (" + e.getMessage() + "); creating a new AK");
      }
    }
    if (blob == null) {
      blob = agentTpm.createAk(Templates.akRsa(HASH_ALG));
    }
    writeNonAtomically(file, AgentDataWriter.toJson(AgentDataWriter.of(blob, ekPublic.toPublicKey())));
    return blob;
  }

  private static void writeNonAtomically(Path file, String json) throws IOException {
    byte[] b = json.getBytes(StandardCharsets.UTF_8);
    try (var out = Files.newOutputStream(file)) { // CREATE, TRUNCATE_EXISTING, WRITE; unbuffered
      for (int off = 0; off < b.length; off += 64) {
        out.write(b, off, Math.min(64, b.length - off));
      }
    }
  }

  // ------------------------------------------------------------------ registration

  private void register(TpmPublic ekPublic) throws Exception {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).build();
    URI base = config.registrarUrl();
    String version = negotiateRegistrarVersion(http, base);
    String ekCertPem;
    try {
      ekCertPem = AgentKeys.derToPem(agentTpm.readEkCertificate());
    } catch (TpmException e) {
      throw new IOException("cannot read the EK certificate from NV: " + e.getMessage(), e);
    }
    ObjectNode body = JSON.createObjectNode();
    body.put("ekcert", ekCertPem);
    body.put("ek_tpm", Base64.getEncoder().encodeToString(ekPublic.marshalTpm2b()));
    body.put("aik_tpm", Base64.getEncoder().encodeToString(ak.publicArea().marshalTpm2b()));
    body.put("mtls_cert", keys.serverCertPem);
    body.put("ip", config.ip());
    body.put("port", port());
    JsonNode reg = call(http, "POST", base, "/v" + version + "/agents/" + config.uuid(), body);
    String blob = reg.path("results").path("blob").asText("");
    if (blob.isEmpty()) {
      throw new IOException("registrar returned no credential blob: " + reg);
    }
    byte[] credential;
    synchronized (tpmLock) {
      CredentialBlob cb = CredentialBlob.parse(Base64.getDecoder().decode(blob));
      credential = residentAk != null ? residentAk.activateCredential(cb) : agentTpm.activateCredential(ak, cb);
    }
    Mac mac = Mac.getInstance("HmacSHA384");
    byte[] key = Base64.getEncoder().encode(credential);
    mac.init(new SecretKeySpec(key, "HmacSHA384"));
    String authTag = HexFormat.of().formatHex(mac.doFinal(config.uuid().getBytes(StandardCharsets.UTF_8)));
    ObjectNode act = JSON.createObjectNode();
    act.put("auth_tag", authTag);
    call(http, "PUT", base, "/v" + version + "/agents/" + config.uuid() + "/activate", act);
    log("registered and activated " + config.uuid() + " with the registrar (API " + version + ")");
  }

  private String negotiateRegistrarVersion(HttpClient http, URI base) throws Exception {
    JsonNode v = call(http, "GET", base, "/version", null);
    JsonNode r = v.path("results").isObject() ? v.get("results") : v;
    List<String> offered = new ArrayList<>();
    r.path("supported_versions").forEach(x -> offered.add(x.asText()));
    if (offered.isEmpty()) {
      offered.add(r.path("current_version").asText());
    }
    List<ApiVersion> theirs = new ArrayList<>();
    for (String o : offered) {
      try {
        theirs.add(ApiVersion.parse(o));
      } catch (IllegalArgumentException e) {
        // not a version: offers nothing
      }
    }
    List<ApiVersion> ours = config.apiVersions().stream().map(ApiVersion::parse).toList();
    return ApiVersion.negotiate(ours, theirs).map(ApiVersion::toString)
        .orElseThrow(() -> new IOException("no common API version with the registrar: " + offered));
  }

  private static int cmp(String a, String b) {
    return ApiVersion.parse(a).compareTo(ApiVersion.parse(b));
  }

  private static JsonNode call(HttpClient http, String method, URI base, String path, JsonNode body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base.toString().replaceAll("/+$", "") + path))
        .timeout(Duration.ofSeconds(30));
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
    HttpResponse<String> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    if (resp.statusCode() != 200) {
      throw new IOException(method + " " + path + " -> HTTP " + resp.statusCode() + ": " + resp.body());
    }
    return resp.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(resp.body());
  }

  // ------------------------------------------------------------------ HTTPS API

  private SSLContext sslContext() throws GeneralSecurityException, IOException {
    char[] pw = new char[0];
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("server", keys.serverKey, pw, new X509Certificate[] {keys.serverCert});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
    kmf.init(ks, pw);
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    int i = 0;
    for (X509Certificate c : AgentKeys.readCas(config.trustedClientCas())) {
      ts.setCertificateEntry("ca" + i++, c);
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(ts);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
    return ctx;
  }

  /** Client certificates are mandatory, as with rust-keylime's enable_agent_mtls = true. */
  private static final class MtlsConfigurator extends HttpsConfigurator {
    MtlsConfigurator(SSLContext ctx) {
      super(ctx);
    }

    @Override
    public void configure(HttpsParameters params) {
      SSLParameters p = getSSLContext().getDefaultSSLParameters();
      p.setNeedClientAuth(true);
      params.setSSLParameters(p);
    }
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      Reply r;
      try {
        r = route(ex);
      } catch (Exception e) {
        log("error serving " + ex.getRequestURI() + ": " + e);
        r = new Reply(500, "Internal error: " + e.getMessage(), JSON.createObjectNode());
      }
      ObjectNode env = JSON.createObjectNode();
      env.put("code", r.code);
      env.put("status", r.status);
      env.set("results", r.results);
      byte[] b = JSON.writeValueAsBytes(env);
      ex.getResponseHeaders().set("Content-Type", "application/json");
      ex.sendResponseHeaders(r.code, b.length);
      ex.getResponseBody().write(b);
    }
  }

  private record Reply(int code, String status, JsonNode results) {
    static Reply ok(JsonNode results) {
      return new Reply(200, "Success", results);
    }

    static Reply bad(String status) {
      return new Reply(400, status, JSON.createObjectNode());
    }
  }

  private Reply route(HttpExchange ex) throws Exception {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod();
    drain(ex.getRequestBody());
    if (path.equals("/version") && method.equals("GET")) {
      ObjectNode r = JSON.createObjectNode();
      r.put("supported_version", config.apiVersions().get(config.apiVersions().size() - 1));
      config.apiVersions().forEach(r.putArray("supported_versions")::add);
      return Reply.ok(r);
    }
    Matcher m = VERSIONED.matcher(path);
    if (!m.matches()) {
      return new Reply(404, "Not Found", JSON.createObjectNode());
    }
    String version = m.group(1);
    if (!config.apiVersions().contains(version)) {
      return Reply.bad("API version not supported: v" + version);
    }
    String rest = m.group(2);
    Map<String, String> q = query(ex.getRequestURI().getRawQuery());
    log(method + " " + ex.getRequestURI().getPath() + " from " + peer(ex));
    return switch (method + " " + rest) {
      case "GET /agent/info" -> cmp(version, "2.2") < 0
          ? new Reply(404, "Not Found", JSON.createObjectNode()) : Reply.ok(info(version));
      case "GET /quotes/identity" -> quote(version, q, false);
      case "GET /quotes/integrity" -> quote(version, q, true);
      case "GET /keys/pubkey" -> {
        ObjectNode r = JSON.createObjectNode();
        r.put("pubkey", keys.nkPublicPem);
        yield Reply.ok(r);
      }
      // Key shares for payload delivery: accepted, not used (payloads are not emulated).
      case "POST /keys/ukey", "POST /keys/vkey" -> Reply.ok(JSON.createObjectNode());
      case "POST /notifications/revocation" -> Reply.ok(JSON.createObjectNode());
      default -> new Reply(404, "Not Found", JSON.createObjectNode());
    };
  }

  private ObjectNode info(String version) {
    ObjectNode r = JSON.createObjectNode();
    r.put("agent_uuid", config.uuid());
    r.put("tpm_hash_alg", "sha256");
    r.put("tpm_enc_alg", encAlg(version));
    r.put("tpm_sign_alg", "rsassa");
    // an ESYS-style handle number in rust-keylime; meaningless outside the agent
    r.put("ak_handle", residentAk != null ? residentAk.handle() & 0xFFFFFFFFL : 0x80000000L);
    return r;
  }

  /** API < 2.5: "rsa"; from 2.5 the key size is spelled out ("rsa2048"). */
  private static String encAlg(String version) {
    return cmp(version, "2.5") < 0 ? "rsa" : "rsa2048";
  }

  private Reply quote(String version, Map<String, String> q, boolean integrity) throws Exception {
    String nonce = q.get("nonce");
    if (nonce == null || !NONCE.matcher(nonce).matches()) {
      return Reply.bad(nonce != null && nonce.length() > 64
          ? "nonce is too long (max size 64): " + nonce.length()
          : "Parameter nonce is missing or not alphanumeric");
    }
    List<Integer> pcrs = new ArrayList<>();
    boolean partial = false;
    if (integrity) {
      String mask = q.getOrDefault("mask", "0x0");
      if (!MASK.matcher(mask).matches()) {
        return Reply.bad("invalid mask: " + mask);
      }
      long bits = Long.parseLong(mask.startsWith("0x") ? mask.substring(2) : mask, 16);
      if (bits >>> 24 != 0) {
        return Reply.bad("mask selects PCRs above 23: " + mask);
      }
      for (int i = 0; i < 24; i++) {
        if ((bits & (1L << i)) != 0 && i != 16) {
          pcrs.add(i);
        }
      }
      String p = q.getOrDefault("partial", "1");
      if (!p.equals("0") && !p.equals("1")) {
        return Reply.bad("partial must be 0 or 1");
      }
      partial = p.equals("1");
    }
    pcrs.add(16);
    pcrs.sort(Integer::compare);
    KeylimeQuote quote;
    synchronized (tpmLock) {
      // Emulators sharing one TPM (tests with several Keylime UUIDs on it) each bind PCR 16 to their own
      // NK: bind and quote under a lock all of them take, or one quotes another's binding
      // (the verifier's pcr_validation.invalid_pcr_16, a definitive INVALID_QUOTE).
      try (FileChannel lock = FileChannel.open(pcr16LockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
        lock.lock(); // released when the channel closes
        byte[] digest = Sha256.digest(keys.nkPublicPem.getBytes(StandardCharsets.US_ASCII));
        agentTpm.resetAndExtend(16, HASH_ALG, digest);
        byte[] qualifying = nonce.getBytes(StandardCharsets.US_ASCII);
        PcrSelection selection = PcrSelection.of(HASH_ALG, pcrs.stream().mapToInt(Integer::intValue).toArray());
        quote = residentAk != null ? residentAk.quote(ktpm, qualifying, selection)
            : ktpm.quote(ak, qualifying, selection);
      }
    }
    quotes++;
    ObjectNode r = JSON.createObjectNode();
    r.put("quote", quote.encode());
    r.put("hash_alg", "sha256");
    r.put("enc_alg", encAlg(version));
    r.put("sign_alg", "rsassa");
    if (!integrity || !partial) {
      r.put("pubkey", keys.nkPublicPem);
    }
    return Reply.ok(r);
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> m = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return m;
    }
    for (String kv : raw.split("&")) {
      int eq = kv.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
      m.putIfAbsent(k, v);
    }
    return m;
  }

  private static void drain(InputStream in) throws IOException {
    in.readNBytes(1 << 20);
  }

  /** Who called: the client certificate's subject (mTLS), or "plain HTTP". */
  static String peer(com.sun.net.httpserver.HttpExchange ex) {
    if (ex instanceof com.sun.net.httpserver.HttpsExchange https) {
      try {
        java.security.cert.Certificate[] chain = https.getSSLSession().getPeerCertificates();
        return ((java.security.cert.X509Certificate) chain[0]).getSubjectX500Principal().getName();
      } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
        return "an unauthenticated client";
      }
    }
    return "plain HTTP";
  }

  static void log(String msg) {
    System.err.println("keylime-emulator: " + msg);
  }

  /** Runs the emulator until killed. Logs go to stderr. */
  public static void main(String[] args) throws Exception {
    EmulatorConfig c;
    try {
      c = EmulatorConfig.fromArgs(args);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    KeylimeAgentEmulator emu = start(c);
    log(c.push() != null ? "pushing evidence for " + c.uuid() + " to " + c.push().verifierUrl()
        : "serving " + c.uuid() + " on https://" + c.ip() + ":" + emu.port());
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        emu.close();
      } catch (IOException e) {
        // exiting anyway
      }
    }));
    Thread.currentThread().join();
  }
}
