package io.github.keylimeattestor.keylime;

import java.util.List;

/**
 * Reads agent records from a Keylime registrar's TLS port ({@code tls_port}, default 8891). Reading
 * records needs a client certificate the registrar trusts ({@code trusted_client_ca}). Thread-safe;
 * keeps a pool of connections.
 */
public final class RegistrarClient {
  /** Registrar API versions this client reads (Keylime 7.x). */
  public static final List<ApiVersion> SUPPORTED_VERSIONS = ApiVersion.range(2, 0, 6);

  private final VersionedClient core;

  public RegistrarClient(ClientSettings settings) {
    if (settings.plainHttp()) {
      throw new IllegalArgumentException(
          "the registrar serves agent records only over HTTPS (its tls_port): " + settings.urls());
    }
    this.core = new VersionedClient("registrar", settings, SUPPORTED_VERSIONS) {};
  }

  /**
   * {@code GET /v2.x/agents/{uuid}}. A 404 ({@link KeylimeApiException#isNotFound()}) means the
   * agent is not registered or has not completed activation.
   */
  public RegistrarAgent getAgent(String agentId) throws KeylimeException {
    String id = VersionedClient.checkAgentId(agentId);
    return core.call(
        (base, v) -> {
          HttpTransport.Answer a = core.http.get(base, v.pathPrefix() + "/agents/" + id);
          return RegistrarAgent.parse(Fields.results(a, "registrar record of " + id), id);
        });
  }

  /** The API version used with the first URL (negotiating it if needed). */
  public ApiVersion apiVersion() throws KeylimeException {
    return core.withFailover(core::version);
  }

  /** Requests, TLS connections and full handshakes this client has made ({@link TransportCounts}). */
  public TransportCounts transportCounts() {
    return core.http.counts();
  }
}
