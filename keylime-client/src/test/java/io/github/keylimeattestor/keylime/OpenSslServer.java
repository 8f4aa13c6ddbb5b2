package io.github.keylimeattestor.keylime;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real OpenSSL TLS server: Debian's python3 {@code ssl} module, set up the way Keylime's
 * verifier and registrar set up theirs (see openssl_https_server.py), so that alerts, CA lists and
 * chain building are OpenSSL's own. Stopped by {@link #close()}.
 */
final class OpenSslServer implements AutoCloseable {
  private final Process process;
  private final int port;
  private final Path log;

  /** @param certChain the server's certificate file (leaf first, as Keylime's server_cert) */
  OpenSslServer(Path dir, Path certChain, Path key, Path... trustedClientCa) throws IOException {
    this(false, dir, certChain, key, trustedClientCa);
  }

  /** A server set up as rust-keylime's agent sets up its TLS acceptor: it refuses every resumed session. */
  static OpenSslServer likeRustKeylime(Path dir, Path certChain, Path key, Path... trustedClientCa) throws IOException {
    return new OpenSslServer(true, dir, certChain, key, trustedClientCa);
  }

  private OpenSslServer(boolean noSessionIdContext, Path dir, Path certChain, Path key, Path... trustedClientCa)
      throws IOException {
    Path script = dir.resolve("openssl_https_server.py");
    try (var in = OpenSslServer.class.getResourceAsStream("/openssl_https_server.py")) {
      Files.write(script, in.readAllBytes());
    }
    String python = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    List<String> cmd = new ArrayList<>(List.of(python, script.toString(), certChain.toString(), key.toString()));
    for (Path p : trustedClientCa) {
      cmd.add(p.toString());
    }
    log = Files.createTempFile(dir, "openssl-server", ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile());
    if (noSessionIdContext) {
      pb.environment().put("NO_SESSION_ID_CONTEXT", "1");
    }
    process = pb.start();
    BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII));
    String line = r.readLine();
    if (line == null) {
      close();
      throw new IOException("the OpenSSL test server did not start: " + Files.readString(log));
    }
    port = Integer.parseInt(line.trim());
  }

  URI uri() {
    return URI.create("https://127.0.0.1:" + port);
  }

  String log() throws IOException {
    return Files.readString(log);
  }

  @Override
  public void close() {
    try {
      process.getOutputStream().close();
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (IOException | InterruptedException e) {
      process.destroyForcibly();
    }
  }
}
