package io.github.keylimeattestor.keylime;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Where and how to reach one Keylime component.
 *
 * @param urls base URLs tried in order (failover), e.g. {@code https://127.0.0.1:8881}
 * @param tls TLS settings; required for {@code https} URLs. Only a Keylime agent client accepts an
 *     explicit {@code http} URL, and then {@code tls} must be null.
 * @param timeout limit for each HTTP exchange (connect, request and response body)
 * @param apiVersion if present, use this API version and skip the {@code /version} negotiation
 */
public record ClientSettings(
    List<URI> urls, TlsSettings tls, Duration timeout, Optional<ApiVersion> apiVersion) {

  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  public ClientSettings {
    urls = List.copyOf(urls);
    if (urls.isEmpty()) {
      throw new IllegalArgumentException("at least one URL is required");
    }
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive");
    }
    apiVersion = apiVersion == null ? Optional.empty() : apiVersion;
    String scheme = null;
    for (URI u : urls) {
      String s = u.getScheme() == null ? "" : u.getScheme().toLowerCase(java.util.Locale.ROOT);
      if (!s.equals("https") && !s.equals("http")) {
        throw new IllegalArgumentException("URL must be https:// (or http:// for a Keylime agent): " + u);
      }
      if (u.getHost() == null || u.getRawQuery() != null || u.getRawFragment() != null || u.getRawUserInfo() != null) {
        throw new IllegalArgumentException("URL must be scheme://host[:port][/path] only: " + u);
      }
      if (scheme != null && !scheme.equals(s)) {
        throw new IllegalArgumentException("do not mix http:// and https:// URLs: " + urls);
      }
      scheme = s;
    }
    if (scheme.equals("https") && tls == null) {
      throw new IllegalArgumentException("https URLs need TLS settings (CA bundle): " + urls);
    }
    if (scheme.equals("http") && tls != null) {
      throw new IllegalArgumentException(
          "TLS settings are given but the URLs are http://; use https:// " + urls);
    }
  }

  public static ClientSettings of(URI url, TlsSettings tls) {
    return new ClientSettings(List.of(url), tls, DEFAULT_TIMEOUT, Optional.empty());
  }

  public ClientSettings withTimeout(Duration t) {
    return new ClientSettings(urls, tls, t, apiVersion);
  }

  public ClientSettings withApiVersion(ApiVersion v) {
    return new ClientSettings(urls, tls, timeout, Optional.of(v));
  }

  boolean plainHttp() {
    return urls.get(0).getScheme().equalsIgnoreCase("http");
  }
}
