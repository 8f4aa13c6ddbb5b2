package io.github.keylimeattestor.server;

import io.github.keylimeattestor.proto.spire.api.types.SPIFFEID;

/** SPIFFE ID text as the SPIFFEID message of SPIRE's APIs. */
public final class SpiffeIds {
  private static final String SCHEME = "spiffe://";

  private SpiffeIds() {}

  /**
   * {@code spiffe://td/path} split at the first slash after the trust domain. Not with
   * {@link java.net.URI}: a trust domain may hold '_', which URI does not take as a host name.
   */
  public static SPIFFEID toMessage(String id) {
    if (id == null || !id.startsWith(SCHEME)) {
      throw new IllegalArgumentException("not a SPIFFE ID: " + id);
    }
    String rest = id.substring(SCHEME.length());
    int slash = rest.indexOf('/');
    String td = slash < 0 ? rest : rest.substring(0, slash);
    if (td.isEmpty() || !td.chars().allMatch(c -> c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-'
        || c == '_')) {
      throw new IllegalArgumentException("not a SPIFFE ID (trust domain '" + td + "'): " + id);
    }
    return SPIFFEID.newBuilder().setTrustDomain(td).setPath(slash < 0 ? "" : rest.substring(slash)).build();
  }
}
