package io.github.keylimeattestor.keylime;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/** Shared machinery: API version negotiation per base URL (cached), failover, id checks. */
abstract class VersionedClient {

  private static final Pattern AGENT_ID = Pattern.compile("[A-Za-z0-9._-]{1,255}");

  final HttpTransport http;
  private final List<ApiVersion> supported;
  private final Map<URI, ApiVersion> negotiated = new ConcurrentHashMap<>();

  VersionedClient(String component, ClientSettings settings, List<ApiVersion> supported) {
    this(component, settings, supported, true);
  }

  VersionedClient(String component, ClientSettings settings, List<ApiVersion> supported, boolean resumeTlsSessions) {
    this.http = new HttpTransport(component, settings, resumeTlsSessions);
    this.supported = List.copyOf(supported);
  }

  /** Runs {@code call} against each configured URL in turn until one answers ({@link Failover}). */
  <T> T withFailover(Failover.Call<T> call) throws KeylimeException {
    return Failover.across(http.component(), http.settings().urls(), call);
  }

  /** Calls {@code call} with the negotiated version, failing over across the configured URLs. */
  <T> T call(VersionedCall<T> call) throws KeylimeException {
    return withFailover(
        base -> {
          ApiVersion v = version(base);
          try {
            return call.apply(base, v);
          } catch (KeylimeUnavailableException | KeylimeTlsException e) {
            negotiated.remove(base); // the peer may come back as another version
            throw e;
          } catch (KeylimeApiException e) {
            // restarted as another version without failing a request in between (a downgrade, a
            // changed api_versions): Keylime answers 400 "API version not supported: v2.6"
            if (!refusesTheVersion(e) || http.settings().apiVersion().isPresent() || !negotiated.remove(base, v)) {
              throw e;
            }
            ApiVersion again = version(base);
            if (again.equals(v)) {
              throw e;
            }
            return call.apply(base, again);
          }
        });
  }

  private static boolean refusesTheVersion(KeylimeApiException e) {
    String m = e.keylimeMessage();
    // rust-keylime: "API version not supported: v2.6"; Keylime's verifier and registrar say the same
    return e.httpStatus() == 400 && m != null && m.toLowerCase(java.util.Locale.ROOT).contains("version not supported");
  }

  @FunctionalInterface
  interface VersionedCall<T> {
    T apply(URI base, ApiVersion version) throws KeylimeException;
  }

  /** The API version used with {@code base}: pinned, cached, or negotiated via {@code /version}. */
  ApiVersion version(URI base) throws KeylimeException {
    var pinned = http.settings().apiVersion();
    if (pinned.isPresent()) {
      return pinned.get();
    }
    ApiVersion v = negotiated.get(base);
    if (v != null) {
      return v;
    }
    HttpTransport.Answer a;
    try {
      a = http.get(base, "/version");
    } catch (KeylimeApiException e) {
      ApiVersion fallback = versionWhenGone(e);
      if (fallback == null) {
        // not about an agent: a 404 here must not read as "agent not found" to callers
        throw new KeylimeIncompatibleException(http.component() + " at " + base + " answered /version with HTTP "
            + e.httpStatus() + ": is the URL the " + http.component() + "'s base URL (https://host:port, no path)? "
            + e.getMessage(), base);
      }
      negotiated.put(base, fallback);
      return fallback;
    }
    List<ApiVersion> theirs = offeredVersions(a);
    v =
        ApiVersion.negotiate(supported, theirs)
            .orElseThrow(
                () ->
                    new KeylimeIncompatibleException(
                        http.component()
                            + " at "
                            + base
                            + " offers API versions "
                            + theirs
                            + ", none of which this client supports ("
                            + supported
                            + "); upgrade one side",
                        base));
    negotiated.put(base, v);
    return v;
  }

  /** Version to use when {@code /version} answers an error (null: no fallback). */
  ApiVersion versionWhenGone(KeylimeApiException e) {
    return null;
  }

  ApiVersion highestSupported() {
    return supported.stream().max(ApiVersion::compareTo).orElseThrow();
  }

  private List<ApiVersion> offeredVersions(HttpTransport.Answer a) throws KeylimeException {
    Json body = a.body();
    Json n = body.path("results").isObject() ? body.get("results") : body;
    List<ApiVersion> out = new ArrayList<>();
    Json list = n.get("supported_versions");
    try {
      if (list != null && list.isArray() && list.size() > 0) {
        for (Json x : list.elements()) {
          out.add(ApiVersion.parse(x.asText()));
        }
      } else if (n.path("supported_version").isTextual()) {
        out.add(ApiVersion.parse(n.get("supported_version").asText()));
      } else if (n.path("current_version").isTextual()) {
        out.add(ApiVersion.parse(n.get("current_version").asText()));
      } else {
        throw new KeylimeMalformedResponseException(
            http.component() + " at " + a.uri() + ": /version names no supported API version",
            a.uri(), null);
      }
    } catch (IllegalArgumentException e) {
      throw new KeylimeMalformedResponseException(
          http.component() + " at " + a.uri() + ": /version: " + e.getMessage(), a.uri(), e);
    }
    return out;
  }

  static String checkAgentId(String id) {
    if (id == null || !AGENT_ID.matcher(id).matches() || id.equals(".") || id.equals("..")) {
      throw new IllegalArgumentException("not a Keylime agent id: '" + id + "'");
    }
    return id;
  }
}
