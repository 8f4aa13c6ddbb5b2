package io.github.keylimeattestor.sdk.hcl;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Typed, strict access to one parsed HCL body that collects every problem instead of stopping at
 * the first, so that {@code spire-server validate} can list them all.
 *
 * <p>An accessor that meets a wrong type, a missing required key or a missing file records a
 * problem naming the full key ({@code tls.ca_bundle}) and returns its fallback; the caller carries
 * on and calls {@link #throwIfProblems()} at the end. Every key read is remembered, so
 * {@link #rejectUnknownKeys()} can refuse typos and suggest the nearest known key. Nested blocks
 * share their parent's problem list.
 */
public final class HclConfig {
  private final String path;
  private final Map<String, Object> values;
  private final Set<String> read = new LinkedHashSet<>();
  private final List<String> problems;

  private HclConfig(String path, Map<String, Object> values, List<String> problems) {
    this.path = path;
    this.values = values;
    this.problems = problems;
  }

  /** Parses {@code plugin_data}; a syntax error is thrown at once (nothing else can be read). */
  public static HclConfig parse(String text) throws HclException {
    return new HclConfig("", HclParser.parse(text), new ArrayList<>());
  }

  public static HclConfig of(Map<String, Object> values) {
    return new HclConfig("", values, new ArrayList<>());
  }

  public Map<String, Object> asMap() {
    return Collections.unmodifiableMap(values);
  }

  public boolean has(String key) {
    read.add(key);
    return values.containsKey(key);
  }

  /** A required, non-empty string; "" (and a problem) when it is missing. */
  public String string(String key) {
    String v = optString(key, null);
    if (v == null || v.isEmpty()) {
      if (!problemsMention(key)) {
        missing(key, "");
      }
      return "";
    }
    return v;
  }

  public String optString(String key, String fallback) {
    return opt(key, fallback, String.class, "a string");
  }

  public long optLong(String key, long fallback) {
    return opt(key, fallback, Long.class, "an integer");
  }

  public boolean optBool(String key, boolean fallback) {
    return opt(key, fallback, Boolean.class, "true or false");
  }

  private <T> T opt(String key, T fallback, Class<T> type, String what) {
    Object v = single(key);
    if (v == null) {
      return fallback;
    }
    if (!type.isInstance(v)) {
      problem(name(key) + " must be " + what);
      return fallback;
    }
    return type.cast(v);
  }

  /** A Go-style duration ("30s", "5m", "1h30m", "250ms"); "0" is zero. */
  public Duration optDuration(String key, Duration fallback) {
    String s = optString(key, null);
    if (s == null) {
      return fallback;
    }
    try {
      return Durations.parse(s);
    } catch (IllegalArgumentException e) {
      problem(name(key) + ": " + e.getMessage());
      return fallback;
    }
  }

  /** A list of strings; a single string is accepted as a one-element list. */
  public List<String> stringList(String key) {
    Object v = single(key);
    return v instanceof String s ? List.of(s) : list(key, v, String.class, "strings");
  }

  /**
   * A list of names or numeric codes ({@code ["get_quote", 5]}), the codes as their decimal text; a
   * single name or code is accepted as a one-element list.
   */
  public List<String> nameOrCodeList(String key) {
    Object v = single(key);
    if (v instanceof String || v instanceof Long) {
      return List.of(v.toString());
    }
    if (v instanceof List<?> list && list.stream().allMatch(e -> e instanceof String || e instanceof Long)) {
      return list.stream().map(Object::toString).toList();
    }
    return list(key, v, String.class, "names or codes");
  }

  /** A list of integers ({@code [0, 7]}); empty if absent. */
  public List<Long> intList(String key) {
    return list(key, single(key), Long.class, "integers");
  }

  private <T> List<T> list(String key, Object v, Class<T> type, String what) {
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof List<?> list) || !list.stream().allMatch(type::isInstance)) {
      problem(name(key) + " must be a list of " + what);
      return List.of();
    }
    return list.stream().map(type::cast).toList();
  }

  /** A required path to a readable regular file; null (and a problem naming the key) otherwise. */
  public Path file(String key) {
    String v = string(key);
    return v.isEmpty() ? null : checkFile(key, v);
  }

  /** As {@link #file}, but an absent or empty key is no problem. */
  public Optional<Path> optFile(String key) {
    String v = optString(key, "");
    return v.isEmpty() ? Optional.empty() : Optional.ofNullable(checkFile(key, v));
  }

  private Path checkFile(String key, String value) {
    Path p;
    try {
      p = Path.of(value);
    } catch (InvalidPathException e) {
      problem(name(key) + ": \"" + value + "\" is not a file path");
      return null;
    }
    if (!Files.exists(p)) {
      problem(name(key) + ": no such file " + p.toAbsolutePath());
      return null;
    }
    if (!Files.isRegularFile(p)) {
      problem(name(key) + ": " + p.toAbsolutePath() + " is not a regular file");
      return null;
    }
    if (!Files.isReadable(p)) {
      problem(name(key) + ": " + p.toAbsolutePath() + " is not readable by this process (user "
          + System.getProperty("user.name") + "): check its owner and mode");
      return null;
    }
    return p;
  }

  /** A nested block or object; empty if absent (or not a block, which is recorded). */
  public HclConfig block(String key) {
    Object v = single(key);
    if (v == null) {
      return new HclConfig(name(key) + ".", new LinkedHashMap<>(), problems);
    }
    if (!(v instanceof Map<?, ?> m)) {
      problem(name(key) + " must be a block");
      return new HclConfig(name(key) + ".", new LinkedHashMap<>(), problems);
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> body = (Map<String, Object>) m;
    return new HclConfig(name(key) + ".", body, problems);
  }

  public Set<String> keys() {
    return Collections.unmodifiableSet(values.keySet());
  }

  /**
   * Records every key that no accessor asked for, with the nearest known key as a suggestion.
   * Call after reading every known key of this block.
   */
  public void rejectUnknownKeys() {
    for (String key : values.keySet()) {
      if (!read.contains(key)) {
        String hint = EditDistance.nearest(key, read).map(k -> ": did you mean " + name(k) + "?")
            .orElse(" (known here: " + String.join(", ", read) + ")");
        problem("unknown setting " + name(key) + hint);
      }
    }
  }

  /**
   * Records that a required key is missing; {@code example} (may be empty) shows a value. If a
   * present key that nothing has read (yet) is a near miss of it, the note says so.
   */
  public void missing(String key, String example) {
    read.add(key);
    Set<String> present = new LinkedHashSet<>(values.keySet());
    present.removeAll(read);
    String typo = EditDistance.nearest(key, present).map(k -> "; " + name(k) + " is set: is it a misspelling?")
        .orElse("");
    problem(name(key) + " is required" + (example.isEmpty() ? "" : " (e.g. " + example + ")") + typo);
  }

  /** A reading step that may refuse the configuration. */
  @FunctionalInterface
  public interface Step<T> {
    T read() throws HclException;
  }

  /** Runs {@code step}; if it throws, records its problems and returns null, so reading goes on. */
  public <T> T attempt(Step<T> step) {
    try {
      return step.read();
    } catch (HclException e) {
      e.problems().forEach(this::problem);
      return null;
    }
  }

  /** Records a problem the caller found; the message should name the key (see {@link #name}). */
  public void problem(String message) {
    if (!problems.contains(message)) { // a block two readers share (e.g. tls) reports its problem once
      problems.add(message);
    }
  }

  /** The key's full name, with its block path ({@code tls.ca_bundle}). */
  public String name(String key) {
    return path + key;
  }

  /** Every problem recorded so far, here and in nested blocks. */
  public List<String> problems() {
    return List.copyOf(problems);
  }

  /** Throws one exception that carries every recorded problem, if there is any. */
  public void throwIfProblems() throws HclException {
    if (!problems.isEmpty()) {
      throw new HclException(problems);
    }
  }

  private boolean problemsMention(String key) {
    String full = name(key);
    return problems.stream().anyMatch(p -> p.startsWith(full + " "));
  }

  private Object single(String key) {
    read.add(key);
    Object v = values.get(key);
    if (v instanceof HclParser.Repeated) {
      problem(name(key) + " is set more than once");
      return null;
    }
    return v;
  }
}
