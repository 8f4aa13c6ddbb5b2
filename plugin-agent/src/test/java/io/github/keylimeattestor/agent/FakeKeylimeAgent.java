package io.github.keylimeattestor.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * A Keylime pull agent's API as rust-keylime serves it, for the quote_source = "keylime_agent"
 * tests: {@code /version}, {@code /v2.2/agent/info} and {@code /v2.2/quotes/identity} (PCR 16 reset
 * and extended with a stand-in NK hash, then quoted by the AK with the nonce's ASCII bytes), over
 * mTLS (client certificate required) or plain HTTP. Talks to the same swtpm as the plugin.
 * (keylime-emulator's full emulator would need a registrar to start.)
 */
final class FakeKeylimeAgent implements AutoCloseable {
  private final HttpServer server;
  private final String uuid;
  private final Supplier<Tpm> tpm;
  private final KeyBlob ak;

  FakeKeylimeAgent(String uuid, Supplier<Tpm> tpm, KeyBlob ak, SSLContext tls) throws IOException {
    this.uuid = uuid;
    this.tpm = tpm;
    this.ak = ak;
    InetSocketAddress addr = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    if (tls == null) {
      server = HttpServer.create(addr, 8);
    } else {
      HttpsServer s = HttpsServer.create(addr, 8);
      s.setHttpsConfigurator(new HttpsConfigurator(tls) {
        @Override
        public void configure(HttpsParameters params) {
          SSLParameters p = getSSLContext().getDefaultSSLParameters();
          p.setNeedClientAuth(true);
          params.setSSLParameters(p);
        }
      });
      server = s;
    }
    server.createContext("/", this::handle);
    server.start();
  }

  int port() {
    return server.getAddress().getPort();
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String path = ex.getRequestURI().getPath();
      String query = ex.getRequestURI().getRawQuery();
      int code = 200;
      String results;
      try {
        if (path.equals("/version")) {
          results = "{\"supported_version\":\"2.2\",\"supported_versions\":[\"2.1\",\"2.2\"]}";
        } else if (path.equals("/v2.2/agent/info")) {
          results = "{\"agent_uuid\":\"" + uuid + "\",\"tpm_hash_alg\":\"sha256\",\"tpm_enc_alg\":\"rsa\","
              + "\"tpm_sign_alg\":\"rsassa\",\"ak_handle\":2147483648}";
        } else if (path.equals("/v2.2/quotes/identity") && query != null && query.matches("nonce=[A-Za-z0-9]{1,64}")) {
          results = "{\"quote\":\"" + quote(query.substring(6)) + "\",\"hash_alg\":\"sha256\",\"enc_alg\":\"rsa\","
              + "\"sign_alg\":\"rsassa\",\"pubkey\":\"-----BEGIN PUBLIC KEY-----\\n-----END PUBLIC KEY-----\\n\"}";
        } else {
          code = 400;
          results = "{}";
        }
      } catch (Exception e) {
        code = 500;
        results = "{}";
      }
      byte[] body = ("{\"code\":" + code + ",\"status\":\"" + (code == 200 ? "Success" : "Error") + "\",\"results\":"
          + results + "}").getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", "application/json");
      ex.sendResponseHeaders(code, body.length);
      ex.getResponseBody().write(body);
    }
  }

  private synchronized String quote(String nonce) throws Exception {
    try (Tpm t = tpm.get()) {
      KeylimeTpm k = new KeylimeTpm(t);
      new KeylimeAgentTpm(k).resetAndExtend(16, Alg.SHA256, MessageDigest.getInstance("SHA-256").digest(uuid.getBytes(StandardCharsets.UTF_8)));
      return k.quote(ak, nonce.getBytes(StandardCharsets.US_ASCII), PcrSelection.of(Alg.SHA256, 16)).encode();
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
