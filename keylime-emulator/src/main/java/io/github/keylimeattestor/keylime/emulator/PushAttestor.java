package io.github.keylimeattestor.keylime.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.command.AttestResponse;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The push-mode half of the emulator: what rust-keylime's {@code keylime_push_model_agent} does
 * against a Keylime verifier running with {@code [verifier] mode = push} (API v3), on the AK the
 * emulator keeps loaded:
 *
 * <ol>
 *   <li>session: {@code POST /v3.0/sessions} offering {@code tpm_pop}; the verifier answers a
 *       base64 challenge; TPM2_Certify of the AK by itself with the challenge bytes as extraData;
 *       {@code PATCH /v3.0/sessions/{id}} with {@code message} (TPMS_ATTEST) and {@code signature}
 *       (TPMT_SIGNATURE) earns a bearer token;
 *   <li>capabilities: {@code POST /v3.0/agents/{id}/attestations} with the {@code tpm_quote}
 *       capabilities (sha256 bank, PCRs 0-23, rsassa, the AK as certification key); the verifier
 *       answers the chosen challenge, PCRs, hash and scheme;
 *   <li>evidence: TPM2_Quote over the chosen PCRs with the challenge bytes as extraData, sent with
 *       {@code PATCH} to the attestation the verifier named (its {@code Location}), as {@code
 *       message} / {@code signature} / {@code subject_data} (the PCR blob), base64;
 *   <li>waits the verifier's {@code seconds_to_next_attestation} (at least {@code interval}) and
 *       goes to 2; a 401/403 starts a new session, a 429/503 waits its {@code Retry-After}.
 * </ol>
 *
 * No UEFI or IMA log is offered (the emulator has none), so the verifier can only check PCRs
 * against the agent's {@code tpm_policy}.
 */
final class PushAttestor implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String API = "/v3.0";
  private static final String JSON_API = "application/vnd.api+json";

  private final String uuid;
  private final URI verifier;
  private final KeylimeTpm ktpm;
  private final ResidentAk ak;
  private final Object tpmLock;
  private final Duration interval;
  private final HttpClient http;
  private final Thread thread;
  private volatile boolean stopped;
  private volatile int pushed;
  private String token;
  private Instant tokenExpires = Instant.EPOCH;

  PushAttestor(EmulatorConfig.Push push, String uuid, KeylimeTpm ktpm, ResidentAk ak, Object tpmLock,
      Duration interval) throws GeneralSecurityException, IOException {
    this.uuid = uuid;
    this.verifier = URI.create(push.verifierUrl().toString().replaceAll("/+$", ""));
    this.ktpm = ktpm;
    this.ak = ak;
    this.tpmLock = tpmLock;
    this.interval = interval;
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).sslContext(serverAuthOnly(push.verifierCa())).build();
    this.thread = new Thread(this::run, "keylime-emulator-push");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** Evidence the verifier acknowledged (202) so far. */
  int pushed() {
    return pushed;
  }

  @Override
  public void close() {
    stopped = true;
    thread.interrupt();
  }

  private void run() {
    while (!stopped) {
      Duration wait = interval;
      try {
        wait = attestOnce();
      } catch (InterruptedException e) {
        return;
      } catch (Exception e) {
        KeylimeAgentEmulator.log("push attestation failed: " + e.getMessage());
      }
      try {
        Thread.sleep(wait.toMillis());
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** One round (session if needed, capabilities, evidence); returns how long to wait before the next. */
  Duration attestOnce() throws Exception {
    if (token == null || Instant.now().isAfter(tokenExpires.minusSeconds(10))) {
      openSession();
    }
    HttpResponse<String> created = send("POST", API + "/agents/" + uuid + "/attestations", capabilities(), true);
    if (created.statusCode() == 401 || created.statusCode() == 403) {
      token = null;
      throw new IOException("verifier refused the capabilities (HTTP " + created.statusCode() + "): "
          + created.body());
    }
    if (created.statusCode() == 429 || created.statusCode() == 503) {
      return retryAfter(created);
    }
    if (created.statusCode() != 201 && created.statusCode() != 200) {
      throw new IOException("POST attestations -> HTTP " + created.statusCode() + ": " + created.body());
    }
    JsonNode attrs = JSON.readTree(created.body()).path("data").path("attributes");
    JsonNode requested = null;
    for (JsonNode item : attrs.path("evidence_requested")) {
      if ("tpm_quote".equals(item.path("evidence_type").asText())) {
        requested = item;
      }
    }
    if (requested == null) {
      throw new IOException("the verifier asked for no tpm_quote (does the agent's tpm_policy list a PCR?): "
          + created.body());
    }
    JsonNode chosen = requested.path("chosen_parameters");
    byte[] challenge = Base64.getDecoder().decode(chosen.path("challenge").asText());
    String hash = chosen.path("hash_algorithm").asText("sha256");
    if (!hash.equals("sha256") || !chosen.path("signature_scheme").asText("rsassa").equals("rsassa")) {
      throw new IOException("verifier chose " + hash + "/" + chosen.path("signature_scheme").asText()
          + "; this emulator quotes sha256/rsassa only");
    }
    int[] pcrs = toInts(chosen.path("selected_subjects").path("sha256"));
    KeylimeQuote quote;
    synchronized (tpmLock) {
      quote = ak.quote(ktpm, challenge, PcrSelection.of(io.github.keylimeattestor.tpm.Alg.SHA256, pcrs));
    }
    String location = created.headers().firstValue("Location")
        .orElse(API + "/agents/" + uuid + "/attestations/latest");
    HttpResponse<String> ack = send("PATCH", URI.create(location).getPath(), evidence(quote), true);
    if (ack.statusCode() == 401 || ack.statusCode() == 403) {
      token = null;
      throw new IOException("verifier refused the evidence (HTTP " + ack.statusCode() + "): " + ack.body());
    }
    if (ack.statusCode() == 503) {
      return retryAfter(ack);
    }
    if (ack.statusCode() != 202) {
      throw new IOException("PATCH " + location + " -> HTTP " + ack.statusCode() + ": " + ack.body());
    }
    pushed++;
    long next = JSON.readTree(ack.body()).path("meta").path("seconds_to_next_attestation").asLong(0);
    KeylimeAgentEmulator.log("pushed evidence " + pushed + " (PCRs " + java.util.Arrays.toString(pcrs)
        + ") to " + location + "; next in " + Math.max(next, interval.toSeconds()) + " s");
    return Duration.ofSeconds(Math.max(next, interval.toSeconds()));
  }

  private void openSession() throws Exception {
    ObjectNode auth = JSON.createObjectNode();
    auth.put("authentication_class", "pop");
    auth.put("authentication_type", "tpm_pop");
    ObjectNode attrs = JSON.createObjectNode();
    attrs.put("agent_id", uuid);
    attrs.putArray("authentication_supported").add(auth);
    HttpResponse<String> r = send("POST", API + "/sessions", document("session", null, attrs), false);
    if (r.statusCode() != 200 && r.statusCode() != 201) {
      throw new IOException("POST /sessions -> HTTP " + r.statusCode() + ": " + r.body());
    }
    JsonNode data = JSON.readTree(r.body()).path("data");
    String sessionId = data.path("id").asText();
    String challenge = data.path("attributes").path("authentication_requested").path(0)
        .path("chosen_parameters").path("challenge").asText();
    AttestResponse proof;
    synchronized (tpmLock) {
      proof = ak.certifySelf(Base64.getDecoder().decode(challenge));
    }
    ObjectNode provided = auth.deepCopy();
    ObjectNode pd = provided.putObject("data");
    pd.put("message", Base64.getEncoder().encodeToString(proof.attest().toByteArray()));
    pd.put("signature", Base64.getEncoder().encodeToString(proof.signature().toByteArray()));
    ObjectNode pattrs = JSON.createObjectNode();
    pattrs.put("agent_id", uuid);
    pattrs.putArray("authentication_provided").add(provided);
    HttpResponse<String> p = send("PATCH", API + "/sessions/" + sessionId, document("session", sessionId, pattrs),
        false);
    JsonNode a = JSON.readTree(p.body()).path("data").path("attributes");
    if (p.statusCode() != 200 || !"pass".equals(a.path("evaluation").asText()) || !a.hasNonNull("token")) {
      throw new IOException("proof of possession refused (HTTP " + p.statusCode() + "): " + p.body());
    }
    token = a.get("token").asText();
    tokenExpires = a.hasNonNull("token_expires_at")
        ? OffsetDateTime.parse(a.get("token_expires_at").asText()).toInstant()
        : Instant.now().plusSeconds(60);
    KeylimeAgentEmulator.log("push session " + sessionId + " open until " + tokenExpires);
  }

  private ObjectNode capabilities() throws Exception {
    TpmPublic pub = ak.publicArea();
    ObjectNode key = JSON.createObjectNode();
    key.put("key_class", "asymmetric");
    key.put("key_algorithm", "rsa");
    key.put("key_size", 2048);
    key.put("server_identifier", "ak");
    key.put("local_identifier", HexFormat.of().formatHex(pub.name()));
    key.put("public", Base64.getEncoder().encodeToString(pub.marshal()));
    key.putArray("allowable_hash_algorithms").add("sha256");
    key.putArray("allowable_signature_schemes").add("rsassa");
    ObjectNode caps = JSON.createObjectNode();
    caps.put("component_version", "2.0");
    caps.putArray("hash_algorithms").add("sha256");
    caps.putArray("signature_schemes").add("rsassa");
    ArrayNode bank = caps.putObject("available_subjects").putArray("sha256");
    for (int i = 0; i < 24; i++) {
      bank.add(i);
    }
    caps.putArray("certification_keys").add(key);
    ObjectNode quote = JSON.createObjectNode();
    quote.put("evidence_class", "certification");
    quote.put("evidence_type", "tpm_quote");
    quote.set("capabilities", caps);
    ObjectNode attrs = JSON.createObjectNode();
    attrs.putArray("evidence_supported").add(quote);
    attrs.putObject("system_info").put("boot_time", bootTime());
    return document("attestation", null, attrs);
  }

  private static ObjectNode evidence(KeylimeQuote q) {
    ObjectNode data = JSON.createObjectNode();
    data.put("subject_data", Base64.getEncoder().encodeToString(q.pcrBlob().toByteArray()));
    data.put("message", Base64.getEncoder().encodeToString(q.attest().toByteArray()));
    data.put("signature", Base64.getEncoder().encodeToString(q.signature().toByteArray()));
    ObjectNode item = JSON.createObjectNode();
    item.put("evidence_class", "certification");
    item.put("evidence_type", "tpm_quote");
    item.set("data", data);
    ObjectNode attrs = JSON.createObjectNode();
    attrs.putArray("evidence_collected").add(item);
    return document("attestation", null, attrs);
  }

  private static ObjectNode document(String type, String id, ObjectNode attributes) {
    ObjectNode doc = JSON.createObjectNode();
    ObjectNode data = doc.putObject("data");
    data.put("type", type);
    if (id != null) {
      data.put("id", id);
    }
    data.set("attributes", attributes);
    return doc;
  }

  private HttpResponse<String> send(String method, String path, JsonNode body, boolean authorized)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(verifier + path)).timeout(Duration.ofSeconds(30))
        .header("Content-Type", JSON_API).header("Accept", JSON_API)
        .method(method, HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
    if (authorized) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  private Duration retryAfter(HttpResponse<String> r) {
    long s = r.headers().firstValue("Retry-After").map(v -> {
      try {
        return Long.parseLong(v.trim());
      } catch (NumberFormatException e) {
        return 1L;
      }
    }).orElse(1L);
    KeylimeAgentEmulator.log("verifier says wait " + s + " s (HTTP " + r.statusCode() + ")");
    return Duration.ofSeconds(Math.max(1, s));
  }

  private static int[] toInts(JsonNode a) throws IOException {
    if (!a.isArray() || a.isEmpty()) {
      throw new IOException("the verifier selected no sha256 PCRs: " + a);
    }
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asInt();
    }
    return out;
  }

  /** The host's boot time (from /proc/stat's btime), as rust-keylime reports it. */
  private static String bootTime() {
    long btime = Instant.now().getEpochSecond();
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/stat"))) {
        if (line.startsWith("btime ")) {
          btime = Long.parseLong(line.substring(6).trim());
        }
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux: now will do
    }
    return DateTimeFormatter.ISO_OFFSET_DATE_TIME.format(
        OffsetDateTime.ofInstant(Instant.ofEpochSecond(btime), ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS));
  }

  private static SSLContext serverAuthOnly(java.nio.file.Path caBundle) throws GeneralSecurityException, IOException {
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    int i = 0;
    for (X509Certificate c : AgentKeys.readCas(List.of(caBundle))) {
      ts.setCertificateEntry("ca" + i++, c);
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(ts);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), new SecureRandom());
    return ctx;
  }
}
