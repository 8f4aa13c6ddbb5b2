package io.github.keylimeattestor.keylime;

import java.net.URI;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Talks to a Keylime (pull-mode) agent: {@code /version}, {@code /v2.x/agent/info}, {@code
 * /v2.x/quotes/identity}. With {@code https://} URLs the agent requires a client certificate from
 * a CA in its {@code trusted_client_ca}; trust its self-signed server certificate by pinning the
 * {@code mtls_cert} the registrar publishes. Plain {@code http://} is used only when the operator
 * configured such a URL explicitly. Thread-safe.
 */
public final class KeylimeAgentClient {
  /** Agent API versions this client speaks (rust-keylime 0.2.8 and later). */
  public static final List<ApiVersion> SUPPORTED_VERSIONS = ApiVersion.range(2, 1, 6);

  private static final ApiVersion INFO_SINCE = new ApiVersion(2, 2);
  private static final Pattern NONCE = Pattern.compile("[A-Za-z0-9]{1,64}");

  private final VersionedClient core;

  public KeylimeAgentClient(ClientSettings settings) {
    // No TLS session resumption: rust-keylime (0.2.9 and main) refuses every resumed handshake with an
    // internal_error alert when mutual TLS is on (its OpenSSL acceptor verifies the client without a
    // session ID context), so each reconnection after its 5 s keep-alive failed. Kept-alive
    // connections are still reused; only a new connection pays a full handshake.
    this.core = new VersionedClient("Keylime agent", settings, SUPPORTED_VERSIONS, false) {};
  }

  /** The versions the agent announces on {@code GET /version} and the one negotiated. */
  public ApiVersion apiVersion() throws KeylimeException {
    return core.withFailover(core::version);
  }

  /** {@code GET /v2.x/agent/info} (agent API 2.2+). */
  public AgentInfo getInfo() throws KeylimeException {
    return core.call(
        (base, v) -> {
          requireAtLeast(base, v, INFO_SINCE, "agent/info");
          return AgentInfo.parse(
              Fields.results(core.http.get(base, v.pathPrefix() + "/agent/info"), "agent info"));
        });
  }

  /**
   * {@code GET /v2.x/quotes/identity?nonce=}: a TPM quote over PCR 16 (which the agent resets and
   * extends with the hash of its NK public key) with the nonce as qualifying data.
   *
   * @param nonce 1-64 ASCII letters and digits (the agent's rule)
   */
  public AgentQuoteResponse getIdentityQuote(String nonce) throws KeylimeException {
    if (nonce == null || !NONCE.matcher(nonce).matches()) {
      throw new IllegalArgumentException("a Keylime agent nonce is 1-64 ASCII letters/digits");
    }
    return core.call(
        (base, v) ->
            AgentQuoteResponse.parse(
                Fields.results(
                    core.http.get(base, v.pathPrefix() + "/quotes/identity?nonce=" + nonce),
                    "identity quote")));
  }

  private static void requireAtLeast(URI base, ApiVersion v, ApiVersion min, String what)
      throws KeylimeIncompatibleException {
    if (!v.isAtLeast(min)) {
      throw new KeylimeIncompatibleException(
          "Keylime agent at " + base + " speaks API " + v + "; " + what + " needs " + min + " or newer",
          base);
    }
  }

  /** Requests, TLS connections and full handshakes this client has made ({@link TransportCounts}). */
  public TransportCounts transportCounts() {
    return core.http.counts();
  }
}
