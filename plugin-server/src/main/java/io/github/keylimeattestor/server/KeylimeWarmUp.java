package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.RegistrarClient;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.sdk.log.Log;

/**
 * After a configuration is applied, in one short-lived daemon thread: negotiates the API version
 * with the registrar and the verifier ({@code GET /version}), so that the TLS context, the first
 * full handshake, the connection in the HttpClient's pool and the JSON classes are ready before the
 * first attestation instead of on its clock. It reads nothing an attestation checks (the registrar
 * record and the verifier status are still read by each attestation) and never fails the
 * configuration: Keylime may be down for a moment, and the first attestation then negotiates as
 * before. Failures are logged at debug.
 */
final class KeylimeWarmUp {
  private static final Log LOG = Log.named("keylime.server");

  private KeylimeWarmUp() {}

  static Thread start(RegistrarClient registrar, VerifierClient verifier) {
    Thread t = new Thread(() -> {
      run("registrar", registrar::apiVersion);
      run("verifier", verifier::apiVersion);
    }, "keylime-warm-up");
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static void run(String component, KeylimeCall call) {
    try {
      LOG.debug("warmed up the connection", "component", component, "api_version", String.valueOf(call.call()));
    } catch (KeylimeException | RuntimeException e) {
      LOG.debug("warm-up failed; the first attestation connects instead", "component", component, "error",
          String.valueOf(e.getMessage()));
    }
  }
}
