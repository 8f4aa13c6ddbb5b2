package io.github.keylimeattestor.keylime.emulator;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Settings of the emulated Keylime pull agent, named after rust-keylime's {@code agent.conf} keys.
 *
 * @param uuid the agent id ({@code uuid})
 * @param tcti the TPM, e.g. {@code swtpm:host=127.0.0.1,port=2321} ({@code TCTI})
 * @param registrarUrl the registrar's plain-HTTP registration URL ({@code registrar_ip},
 *     {@code registrar_port}), as rust-keylime uses by default
 * @param ip listen address ({@code ip}); also the contact address sent to the registrar
 * @param port listen port ({@code port}); 0 picks a free one
 * @param keylimeDir {@code keylime_dir}: agent_data.json, server-cert.crt, server-private.pem,
 *     payload-private.pem (created if absent)
 * @param trustedClientCas {@code trusted_client_ca}: PEM files of the CAs whose client
 *     certificates may call the agent (Keylime's cv_ca/cacert.crt, plus e.g. a SPIRE plugin CA)
 * @param apiVersions the agent API versions served
 * @param residentAk keep the AK loaded as a transient object for the emulator's whole life and
 *     leave it loaded at exit, as rust-keylime 0.2.9 does (default: load, use and flush per request)
 * @param push push mode, as rust-keylime's {@code keylime_push_model_agent}: the verifier to push
 *     evidence to and the CA bundle its server certificate chains to; null: pull mode
 */
public record EmulatorConfig(
    String uuid,
    String tcti,
    URI registrarUrl,
    String ip,
    int port,
    Path keylimeDir,
    List<Path> trustedClientCas,
    List<String> apiVersions,
    boolean residentAk,
    Push push) {

  /**
   * Push mode ({@code --push-verifier}, {@code --verifier-ca}): the verifier's HTTPS base URL
   * ({@code verifier_url}) and the CA bundle for its server certificate ({@code verifier_tls_ca_cert}
   * in rust-keylime's push agent). No HTTPS API is served and no client certificate is used.
   */
  public record Push(URI verifierUrl, Path verifierCa) {}

  /** rust-keylime 0.2.9's agent API versions ({@code SUPPORTED_API_VERSIONS}); it answers 400 to /v2.6/. */
  public static final List<String> DEFAULT_API_VERSIONS = List.of("2.1", "2.2", "2.3", "2.4", "2.5");

  public EmulatorConfig {
    trustedClientCas = List.copyOf(trustedClientCas);
    apiVersions = List.copyOf(apiVersions);
    if (trustedClientCas.isEmpty() && push == null) {
      throw new IllegalArgumentException("at least one trusted client CA is required (mTLS is mandatory)");
    }
  }

  static final String USAGE =
      "usage: KeylimeAgentEmulator --uuid UUID --tcti swtpm:host=H,port=P --registrar http://H:P"
          + " --keylime-dir DIR --trusted-client-ca PEM [--trusted-client-ca PEM ...]"
          + " [--ip 127.0.0.1] [--port 0] [--api-versions 2.1,2.2,...] [--resident-ak]\n"
          + "   push mode: --push-verifier https://H:P --verifier-ca PEM (no --trusted-client-ca needed)";

  public static EmulatorConfig fromArgs(String[] args) {
    String uuid = null;
    String tcti = null;
    URI registrar = null;
    String ip = "127.0.0.1";
    int port = 0;
    Path dir = null;
    List<Path> cas = new ArrayList<>();
    List<String> versions = DEFAULT_API_VERSIONS;
    boolean residentAk = false;
    URI pushVerifier = null;
    Path verifierCa = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--resident-ak")) {
        residentAk = true;
        continue;
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("missing value for " + a + "\n" + USAGE);
      }
      String v = args[++i];
      switch (a) {
        case "--uuid" -> uuid = v;
        case "--tcti" -> tcti = v;
        case "--registrar" -> registrar = URI.create(v);
        case "--ip" -> ip = v;
        case "--port" -> port = Integer.parseInt(v);
        case "--keylime-dir" -> dir = Path.of(v);
        case "--trusted-client-ca" -> cas.add(Path.of(v));
        case "--api-versions" -> versions = List.of(v.split(","));
        case "--push-verifier" -> pushVerifier = URI.create(v);
        case "--verifier-ca" -> verifierCa = Path.of(v);
        default -> throw new IllegalArgumentException("unknown option " + a + "\n" + USAGE);
      }
    }
    if (uuid == null || tcti == null || registrar == null || dir == null) {
      throw new IllegalArgumentException(USAGE);
    }
    if ((pushVerifier == null) != (verifierCa == null)) {
      throw new IllegalArgumentException("--push-verifier and --verifier-ca go together\n" + USAGE);
    }
    Push push = pushVerifier == null ? null : new Push(pushVerifier, verifierCa);
    return new EmulatorConfig(uuid, tcti, registrar, ip, port, dir, cas, versions, residentAk || push != null, push);
  }
}
