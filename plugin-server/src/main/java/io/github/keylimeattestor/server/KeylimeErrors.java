package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.KeylimeApiException;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.KeylimeIncompatibleException;
import io.github.keylimeattestor.keylime.KeylimeMalformedResponseException;
import io.github.keylimeattestor.keylime.KeylimeTlsException;
import io.grpc.Status;
import io.grpc.StatusException;

/**
 * Keylime client failures as SPIRE status codes (DESIGN.md section 4): Keylime unreachable or not
 * ready is Unavailable; a TLS handshake refused either way, an HTTP 401/403 for our client
 * certificate, an API version neither side serves, or an answer that does not read as the service's
 * (a configuration to fix, on this side or Keylime's), is FailedPrecondition, as on the agent plugin. spire-agent retries both (it gives up
 * only on PermissionDenied), so the node recovers without a restart once the configuration is fixed.
 */
final class KeylimeErrors {
  private KeylimeErrors() {}

  static StatusException toStatus(String what, String agentId, KeylimeException e) {
    if (e instanceof KeylimeApiException api && api.isNotFound()) {
      return Status.UNAVAILABLE.withDescription("the Keylime " + what + " does not know agent " + agentId
          + (what.equals("registrar") ? " (not registered or not activated yet)" : " (not enrolled yet: keylime_tenant -c add)"))
          .asException();
    }
    if (e instanceof KeylimeApiException api && api.isForbidden()) {
      // Keylime took the connection but not our client certificate: a configuration to fix, not an outage
      return Status.FAILED_PRECONDITION.withDescription("Keylime " + what + " refused this plugin's client: "
          + e.getMessage() + "; set " + what + "_tls (or tls) to a client certificate issued by a CA in Keylime's "
          + "trusted_client_ca").asException();
    }
    if (e instanceof KeylimeIncompatibleException || e instanceof KeylimeTlsException) {
      return Status.FAILED_PRECONDITION.withDescription("Keylime " + what + ": " + e.getMessage()).asException();
    }
    if (e instanceof KeylimeMalformedResponseException) {
      // most often a URL that names another service (the registrar for the verifier, a proxy page):
      // a configuration to check, not an outage
      return Status.FAILED_PRECONDITION.withDescription("Keylime " + what + " answered something this plugin cannot "
          + "read: " + e.getMessage() + "; check that " + what + "_urls name the Keylime " + what + " itself")
          .asException();
    }
    return Status.UNAVAILABLE.withDescription("Keylime " + what + ": " + e.getMessage()).asException();
  }
}
