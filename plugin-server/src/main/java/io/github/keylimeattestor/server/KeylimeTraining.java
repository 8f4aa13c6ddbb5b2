package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.RegistrarClient;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.sdk.log.Log;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The Keylime half of {@code --train-cds}: the registrar and verifier clients, built from plugin_data
 * as Configure builds them, make their calls over mutual TLS to a loopback stand-in of Keylime 7.14
 * ({@link KeylimeStandIn}, another JVM, stopped at the end). Without it the server plugin read some
 * 2,300 classes (the JDK's TLS and HttpClient, the JSON reader, our Keylime client) from the jar and
 * the JDK's modules on the first attestation's clock and held them in metaspace. Nothing leaves the
 * machine: the stand-in listens on 127.0.0.1 only, and its certificates and key are made for the run
 * in a private temporary directory, deleted at the end.
 */
final class KeylimeTraining {
  private static final Log LOG = Log.named("keylime.server");

  private KeylimeTraining() {}

  /** Returns how many of the two exchanges (registrar, verifier) were answered and accepted. */
  static int run() throws Exception {
    Path dir = Files.createTempDirectory("keylime-attestor-training");
    Process standIn = null;
    try {
      standIn = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
          KeylimeStandIn.class.getName(), dir.toString())
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      String line = awaitPorts(standIn, dir.resolve(KeylimeStandIn.PORTS));
      String[] ports = line.split(" ");
      ServerConfig config = ServerConfig.parse("example.org",
          "registrar_urls = [\"https://127.0.0.1:" + ports[0] + "\"]\n"
              + "verifier_urls = [\"https://127.0.0.1:" + ports[1] + "\"]\n"
              + "tls {\n ca_bundle = \"" + dir.resolve(KeylimeStandIn.CA) + "\"\n client_cert = \""
              + dir.resolve(KeylimeStandIn.CLIENT_CERT) + "\"\n client_key = \"" + dir.resolve(KeylimeStandIn.CLIENT_KEY)
              + "\"\n}\n");
      RegistrarClient registrar = new RegistrarClient(config.registrar(), RegistrarClient.DEFAULT_RECORD_TTL);
      VerifierClient verifier = new VerifierClient(config.verifier());
      Keylime keylime = Keylime.over(registrar, verifier);
      return call("registrar", () -> keylime.registrarAgent(KeylimeStandIn.AGENT))
          + call("verifier", () -> keylime.verifierStatus(KeylimeStandIn.AGENT));
    } finally {
      if (standIn != null) {
        standIn.getOutputStream().close();
        if (!standIn.waitFor(10, TimeUnit.SECONDS)) {
          standIn.destroyForcibly().waitFor();
        }
      }
      try (Stream<Path> files = Files.walk(dir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /** The stand-in's "registrar-port verifier-port", once it listens (it writes the file atomically). */
  private static String awaitPorts(Process standIn, Path file) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Files.exists(file)) {
      if (!standIn.isAlive() || System.nanoTime() > deadline) {
        throw new IOException("the Keylime stand-in of the class-data training did not start"
            + (standIn.isAlive() ? " within 60 s" : " (exit " + standIn.exitValue() + ")"));
      }
      Thread.sleep(10);
    }
    String line = Files.readString(file).strip();
    if (!line.matches("[0-9]+ [0-9]+")) {
      throw new IOException("the Keylime stand-in of the class-data training wrote no ports: " + line);
    }
    return line;
  }

  /** A refusal still ran the transport, TLS and JSON classes up to it; it is logged, as fewer classes are trained. */
  private static int call(String component, KeylimeCall c) {
    try {
      c.call();
      LOG.debug("class-data training: Keylime exchange done", "component", component);
      return 1;
    } catch (KeylimeException e) {
      LOG.warn("class-data training: the Keylime exchange was refused; the archive holds fewer classes",
          "component", component, "error", String.valueOf(e.getMessage()));
      return 0;
    }
  }
}
