package io.github.keylimeattestor.keylime;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads attestation status from a Keylime verifier (default port 8881) and asks it to check
 * identity quotes. Status reads need a client certificate the verifier trusts; {@code
 * verify/identity} is public (server authentication only). Thread-safe; keeps a pool of
 * connections.
 */
public final class VerifierClient {
  /** Verifier API versions this client reads (Keylime 7.x, 2.x paths). */
  public static final List<ApiVersion> SUPPORTED_VERSIONS = ApiVersion.range(2, 0, 6);

  private static final ApiVersion VERIFY_IDENTITY_SINCE = new ApiVersion(2, 2);

  private final VersionedClient core;

  public VerifierClient(ClientSettings settings) {
    if (settings.plainHttp()) {
      throw new IllegalArgumentException("the verifier is HTTPS only: " + settings.urls());
    }
    this.core =
        new VersionedClient("verifier", settings, SUPPORTED_VERSIONS) {
          @Override
          ApiVersion versionWhenGone(KeylimeApiException e) {
            // A push-mode verifier answers /version with 410 Gone but still serves the 2.x
            // status and verify paths.
            return e.httpStatus() == 410 ? highestSupported() : null;
          }
        };
  }

  /**
   * {@code GET /v2.x/agents/{uuid}}. A 404 ({@link KeylimeApiException#isNotFound()}) means the
   * agent is not enrolled in this verifier.
   */
  public VerifierAgentStatus getAgent(String agentId) throws KeylimeException {
    String id = VersionedClient.checkAgentId(agentId);
    return core.call(
        (base, v) -> {
          HttpTransport.Answer a = core.http.get(base, v.pathPrefix() + "/agents/" + id);
          return VerifierAgentStatus.parse(Fields.results(a, "verifier status of " + id), id);
        });
  }

  /**
   * Largest bulk answer read by default: about 11,000 agents at Keylime 7.14's ~1.5 KB each. The
   * body is held whole while it is parsed, so this must fit the plugin's 64 MB heap with what else
   * lives there (at 30 MB it did not); beyond it, the revocation watch asks per node.
   */
  public static final int DEFAULT_BULK_MAX_BYTES = 16 * 1024 * 1024;

  /**
   * {@code GET /v2.x/agents/?bulk=true}: every agent the verifier holds, in one answer, read as a
   * stream. With {@code verifierId}, only the agents assigned to that verifier instance ({@code
   * &verifier=<id>}, Keylime's own filter for verifiers sharing one database).
   */
  public VerifierBulkStatus getAgentsBulk(java.util.Optional<String> verifierId, int maxBytes)
      throws KeylimeException {
    Map<String, String> q = new LinkedHashMap<>();
    q.put("bulk", "true");
    verifierId.ifPresent(id -> q.put("verifier", id));
    return core.call(
        (base, v) ->
            core.http.getStreaming(
                base, v.pathPrefix() + "/agents/" + HttpTransport.query(q), maxBytes, VerifierBulkStatus::read));
  }

  /**
   * {@code GET /v2.x/verify/identity}: asks the verifier to check an identity quote against the AK
   * it holds for the agent. Needs Keylime 7.11+ (API 2.2).
   *
   * @param quote Keylime's quote string
   * @param nonce the exact nonce the quote was made over
   * @param hashAlg e.g. {@code sha256}
   */
  public IdentityVerification verifyIdentity(
      String agentId, String quote, String nonce, String hashAlg) throws KeylimeException {
    String id = VersionedClient.checkAgentId(agentId);
    Map<String, String> q = new LinkedHashMap<>();
    q.put("agent_uuid", id);
    q.put("quote", requireText(quote, "quote"));
    q.put("nonce", requireText(nonce, "nonce"));
    q.put("hash_alg", requireText(hashAlg, "hashAlg"));
    return core.call(
        (base, v) -> {
          if (!v.isAtLeast(VERIFY_IDENTITY_SINCE)) {
            throw new KeylimeIncompatibleException(
                "verifier at " + base + " speaks API " + v
                    + "; verify/identity needs API 2.2 (Keylime 7.11) or newer",
                base);
          }
          HttpTransport.Answer a =
              core.http.get(base, v.pathPrefix() + "/verify/identity" + HttpTransport.query(q));
          return IdentityVerification.parse(Fields.results(a, "verify/identity for " + id));
        });
  }

  /**
   * {@code GET /v3.0/agents/{uuid}/attestations/latest} on a push-mode verifier (Keylime 7.14+,
   * {@code [verifier] mode = push}; admin mTLS, as the status read). Empty when the verifier holds
   * no attestation for the agent yet (Keylime's 404). Pull-mode verifiers do not serve this path:
   * their bare 404 (no JSON envelope) is a {@link KeylimeApiException} that is not {@code isNotFound()}.
   * The list {@code GET /v3.0/agents/{uuid}/attestations} is not used: 7.14.3 answers it HTTP 500
   * whenever it holds none or more than one attestation.
   */
  public java.util.Optional<PushAttestation> latestPushAttestation(String agentId) throws KeylimeException {
    String id = VersionedClient.checkAgentId(agentId);
    return core.withFailover(
        base -> {
          try {
            HttpTransport.Answer a = core.http.get(base, PUSH_API + "/agents/" + id + "/attestations/latest");
            return java.util.Optional.of(PushAttestation.parse(a, "latest push attestation of " + id));
          } catch (KeylimeApiException e) {
            if (e.isNotFound()) {
              return java.util.Optional.empty();
            }
            throw e;
          }
        });
  }

  /** The push-attestation API prefix: Keylime 7.14 serves it as v3.0 only. */
  static final String PUSH_API = "/v3.0";

  /** The API version used with the first reachable URL (negotiating it if needed). */
  public ApiVersion apiVersion() throws KeylimeException {
    return core.withFailover(core::version);
  }

  private static String requireText(String s, String what) {
    if (s == null || s.isEmpty()) {
      throw new IllegalArgumentException(what + " is required");
    }
    return s;
  }

  /** Requests, TLS connections and full handshakes this client has made ({@link TransportCounts}). */
  public TransportCounts transportCounts() {
    return core.http.counts();
  }
}
