package io.github.keylimeattestor.keylime;

import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A Keylime REST API version such as {@code 2.2}, as used in path prefixes ({@code /v2.2/}). */
public record ApiVersion(int major, int minor) implements Comparable<ApiVersion> {

  private static final Pattern FORMAT = Pattern.compile("v?(\\d{1,3})\\.(\\d{1,3})");

  public ApiVersion {
    if (major < 0 || minor < 0) {
      throw new IllegalArgumentException("negative API version " + major + "." + minor);
    }
  }

  /** Parses {@code "2.2"} or {@code "v2.2"}. */
  public static ApiVersion parse(String text) {
    Matcher m = FORMAT.matcher(text == null ? "" : text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("not a Keylime API version: '" + text + "'");
    }
    return new ApiVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
  }

  /** Highest version offered by both sides, as Keylime's own clients negotiate. */
  public static Optional<ApiVersion> negotiate(
      Collection<ApiVersion> ours, Collection<ApiVersion> theirs) {
    return ours.stream().filter(theirs::contains).max(ApiVersion::compareTo);
  }

  static List<ApiVersion> range(int major, int fromMinor, int toMinor) {
    return java.util.stream.IntStream.rangeClosed(fromMinor, toMinor)
        .mapToObj(m -> new ApiVersion(major, m))
        .toList();
  }

  public boolean isAtLeast(ApiVersion other) {
    return compareTo(other) >= 0;
  }

  /** The path prefix, e.g. {@code /v2.2}. */
  public String pathPrefix() {
    return "/v" + this;
  }

  @Override
  public int compareTo(ApiVersion o) {
    return major != o.major ? Integer.compare(major, o.major) : Integer.compare(minor, o.minor);
  }

  @Override
  public String toString() {
    return major + "." + minor;
  }
}
