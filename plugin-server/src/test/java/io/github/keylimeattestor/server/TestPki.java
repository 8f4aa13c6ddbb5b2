package io.github.keylimeattestor.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A throwaway self-signed certificate and key (openssl), standing in for Keylime's TLS files. */
final class TestPki {
  final Path cert;
  final Path key;

  private TestPki(Path cert, Path key) {
    this.cert = cert;
    this.key = key;
  }

  static TestPki create() throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("server-pki");
    Path cert = dir.resolve("cert.pem");
    Path key = dir.resolve("key.pem");
    // removed when the test JVM exits, in reverse order: the files, then the directory
    dir.toFile().deleteOnExit();
    cert.toFile().deleteOnExit();
    key.toFile().deleteOnExit();
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", "1", "-subj", "/CN=test", "-keyout", key.toString(), "-out", cert.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException("openssl failed: " + out);
    }
    return new TestPki(cert, key);
  }

  /** plugin_data with both URL lists and this PKI as the tls block, plus {@code extra}. */
  String pluginData(String extra) {
    return "registrar_urls = [\"https://127.0.0.1:8891\"]\nverifier_urls = [\"https://a:8881\", \"https://b:8881\"]\n"
        + "tls {\n ca_bundle = \"" + cert + "\"\n client_cert = \"" + cert + "\"\n client_key = \"" + key + "\"\n}\n"
        + extra;
  }
}
