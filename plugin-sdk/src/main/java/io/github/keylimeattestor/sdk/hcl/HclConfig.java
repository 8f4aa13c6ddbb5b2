package io.github.keylimeattestor.sdk.hcl;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Typed, strict access to one parsed HCL body. Every key read is remembered, so
 * {@link #rejectUnknownKeys()} can refuse typos ("tls_servername") instead of silently ignoring them.
 */
public final class HclConfig {
  private final String path;
  private final Map<String, Object> values;
  private final Set<String> read = new LinkedHashSet<>();

  private HclConfig(String path, Map<String, Object> values) {
    this.path = path;
    this.values = values;
  }

  public static HclConfig parse(String text) throws HclException {
    return new HclConfig("", HclParser.parse(text));
  }

  public static HclConfig of(Map<String, Object> values) {
    return new HclConfig("", values);
  }

  public Map<String, Object> asMap() {
    return Collections.unmodifiableMap(values);
  }

  public boolean has(String key) {
    read.add(key);
    return values.containsKey(key);
  }

  public String string(String key) throws HclException {
    String v = optString(key, null);
    if (v == null || v.isEmpty()) {
      throw new HclException(name(key) + " is required");
    }
    return v;
  }

  public String optString(String key, String fallback) throws HclException {
    return opt(key, fallback, String.class, "a string");
  }

  public long optLong(String key, long fallback) throws HclException {
    return opt(key, fallback, Long.class, "an integer");
  }

  public boolean optBool(String key, boolean fallback) throws HclException {
    return opt(key, fallback, Boolean.class, "true or false");
  }

  private <T> T opt(String key, T fallback, Class<T> type, String what) throws HclException {
    Object v = single(key);
    if (v == null) {
      return fallback;
    }
    if (!type.isInstance(v)) {
      throw new HclException(name(key) + " must be " + what);
    }
    return type.cast(v);
  }

  /** A Go-style duration ("30s", "5m", "1h30m", "250ms"). */
  public Duration optDuration(String key, Duration fallback) throws HclException {
    String s = optString(key, null);
    if (s == null) {
      return fallback;
    }
    try {
      return Durations.parse(s);
    } catch (IllegalArgumentException e) {
      throw new HclException(name(key) + ": " + e.getMessage());
    }
  }

  /** A list of strings; a single string is accepted as a one-element list. */
  public List<String> stringList(String key) throws HclException {
    Object v = single(key);
    return v instanceof String s ? List.of(s) : list(key, v, String.class, "strings");
  }

  /** A list of integers ({@code [0, 7]}); empty if absent. */
  public List<Long> intList(String key) throws HclException {
    return list(key, single(key), Long.class, "integers");
  }

  private <T> List<T> list(String key, Object v, Class<T> type, String what) throws HclException {
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof List<?> list) || !list.stream().allMatch(type::isInstance)) {
      throw new HclException(name(key) + " must be a list of " + what);
    }
    return list.stream().map(type::cast).toList();
  }

  /** A nested block or object; empty if absent. */
  public HclConfig block(String key) throws HclException {
    Object v = single(key);
    if (v == null) {
      return new HclConfig(name(key) + ".", new LinkedHashMap<>());
    }
    if (!(v instanceof Map<?, ?> m)) {
      throw new HclException(name(key) + " must be a block");
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> body = (Map<String, Object>) m;
    return new HclConfig(name(key) + ".", body);
  }

  public Set<String> keys() {
    return Collections.unmodifiableSet(values.keySet());
  }

  /** Fails on any key that no accessor asked for. Call after reading every known key. */
  public void rejectUnknownKeys() throws HclException {
    for (String key : values.keySet()) {
      if (!read.contains(key)) {
        throw new HclException("unknown setting " + name(key) + " (check its spelling)");
      }
    }
  }

  private Object single(String key) throws HclException {
    read.add(key);
    Object v = values.get(key);
    if (v instanceof HclParser.Repeated) {
      throw new HclException(name(key) + " is set more than once");
    }
    return v;
  }

  private String name(String key) {
    return path + key;
  }
}
