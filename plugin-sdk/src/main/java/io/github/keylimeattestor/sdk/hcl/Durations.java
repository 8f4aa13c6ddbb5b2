package io.github.keylimeattestor.sdk.hcl;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses Go's time.ParseDuration syntax, which SPIRE operators already use everywhere. */
public final class Durations {
  private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)");

  private Durations() {}

  public static Duration parse(String s) {
    if (s.equals("0")) {
      return Duration.ZERO;
    }
    Matcher m = PART.matcher(s);
    int at = 0;
    double nanos = 0;
    while (at < s.length() && m.find(at) && m.start() == at) {
      double n = Double.parseDouble(m.group(1));
      nanos += n * switch (m.group(2)) {
        case "ns" -> 1;
        case "us", "µs" -> 1e3;
        case "ms" -> 1e6;
        case "s" -> 1e9;
        case "m" -> 60e9;
        default -> 3600e9;
      };
      at = m.end();
    }
    if (at == 0 || at != s.length()) {
      throw new IllegalArgumentException("'" + s + "' is not a duration such as \"30s\", \"5m\" or \"1h\"");
    }
    if (nanos >= 0x1p63) { // as Go: about 292 years at most, not a silent cap
      throw new IllegalArgumentException("'" + s + "' is longer than a duration can be (about 292 years)");
    }
    return Duration.ofNanos((long) nanos);
  }
}
