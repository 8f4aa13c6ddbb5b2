package io.github.keylimeattestor.keylime;

import java.net.URI;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;

/** Strict typed access to fields of a Keylime JSON object; every miss names the field. */
final class Fields {
  private final Json obj;
  private final URI uri;
  private final String what;

  Fields(Json obj, URI uri, String what) {
    this.obj = obj;
    this.uri = uri;
    this.what = what;
  }

  /** The {@code results} object of a Keylime envelope. */
  static Fields results(HttpTransport.Answer a, String what) throws KeylimeMalformedResponseException {
    Json r = a.body().get("results");
    if (r == null || !r.isObject()) {
      throw new KeylimeMalformedResponseException(
          what + " from " + HttpTransport.shown(a.uri()) + " has no 'results' object", a.uri(), null);
    }
    return new Fields(r, a.uri(), what);
  }

  Json node() {
    return obj;
  }

  URI uri() {
    return uri;
  }

  KeylimeMalformedResponseException bad(String field, String problem, Throwable cause) {
    return new KeylimeMalformedResponseException(
        what + " from " + HttpTransport.shown(uri) + ": field '" + field + "' " + problem, uri, cause);
  }

  private Json present(String field) throws KeylimeMalformedResponseException {
    Json n = obj.get(field);
    if (n == null || n.isNull()) {
      throw bad(field, "is missing", null);
    }
    return n;
  }

  boolean isNullOrAbsent(String field) {
    Json n = obj.get(field);
    return n == null || n.isNull();
  }

  String string(String field) throws KeylimeMalformedResponseException {
    Json n = present(field);
    if (!n.isTextual()) {
      throw bad(field, "is not a string", null);
    }
    return n.asText();
  }

  Optional<String> optString(String field) throws KeylimeMalformedResponseException {
    return isNullOrAbsent(field) ? Optional.empty() : Optional.of(string(field));
  }

  long integer(String field) throws KeylimeMalformedResponseException {
    Json n = present(field);
    if (!n.isIntegralNumber() || !n.canConvertToLong()) {
      throw bad(field, "is not an integer", null);
    }
    return n.asLong();
  }

  Optional<Long> optInteger(String field) throws KeylimeMalformedResponseException {
    return isNullOrAbsent(field) ? Optional.empty() : Optional.of(integer(field));
  }

  /** A TCP port given as a number or a numeric string (older records store it as text). */
  Optional<Integer> optPort(String field) throws KeylimeMalformedResponseException {
    if (isNullOrAbsent(field)) {
      return Optional.empty();
    }
    Json n = obj.get(field);
    long p;
    if (n.canConvertToLong()) {
      p = n.asLong();
    } else if (n.isTextual() && n.asText().matches("\\d{1,5}")) {
      p = Long.parseLong(n.asText());
    } else {
      throw bad(field, "is not a port number", null);
    }
    if (p < 0 || p > 65535) {
      throw bad(field, "is out of the port range: " + p, null);
    }
    return Optional.of((int) p);
  }

  /** Unix seconds (possibly fractional); 0 or absent means "never". */
  Optional<Instant> optEpochSeconds(String field) throws KeylimeMalformedResponseException {
    if (isNullOrAbsent(field)) {
      return Optional.empty();
    }
    Json n = obj.get(field);
    if (!n.isNumber()) {
      throw bad(field, "is not a number of seconds", null);
    }
    double s = n.asDouble();
    if (s < 0 || Double.isNaN(s) || s > 1e11) {
      throw bad(field, "is not a plausible Unix time: " + n, null);
    }
    if (s == 0) {
      return Optional.empty();
    }
    long secs = (long) Math.floor(s);
    return Optional.of(Instant.ofEpochSecond(secs, (long) ((s - secs) * 1e9)));
  }

  byte[] base64(String field) throws KeylimeMalformedResponseException {
    String s = string(field);
    try {
      return Base64.getDecoder().decode(s.strip());
    } catch (IllegalArgumentException e) {
      throw bad(field, "is not valid base64", e);
    }
  }
}
