package io.github.keylimeattestor.sdk.hcl;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses Go's time.ParseDuration syntax, which SPIRE operators already use everywhere. */
public final class Durations {
  /** As Go: "1.5", ".5" and "1." are numbers; µ (U+00B5) and μ (U+03BC) both spell micro. */
  private static final Pattern PART = Pattern.compile("(\\d++(?:\\.\\d*+)?+|\\.\\d++)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)");

  private Durations() {}

  /**
   * Go's syntax, a leading '+' included; a negative duration ('-'), which Go reads, is refused here:
   * no setting of ours means anything by one.
   */
  public static Duration parse(String in) {
    if (in.startsWith("-")) {
      throw new IllegalArgumentException("'" + in + "' is negative: give a duration such as \"30s\", or \"0\"");
    }
    String s = in.startsWith("+") ? in.substring(1) : in;
    if (s.equals("0")) {
      return Duration.ZERO;
    }
    Matcher m = PART.matcher(s);
    int at = 0;
    double nanos = 0;
    // lookingAt on the rest, never a search: a search from each position of a long digit run is cubic
    while (at < s.length() && m.region(at, s.length()).lookingAt()) {
      double n = Double.parseDouble(m.group(1));
      nanos += n * switch (m.group(2)) {
        case "ns" -> 1;
        case "us", "\u00b5s", "\u03bcs" -> 1e3;
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

  /**
   * A duration as an operator writes it in SPIRE's configuration ("500ms", "2s", "1m30s", "1h"), which
   * {@link #parse} reads back; messages show this rather than Java's "PT1M30S".
   */
  public static String format(Duration d) {
    if (d.isNegative()) {
      return "-" + format(d.negated());
    }
    if (d.compareTo(Duration.ofSeconds(1)) < 0) {
      long nanos = d.toNanos();
      if (nanos == 0) {
        return "0s";
      }
      return nanos % 1_000_000 == 0 ? nanos / 1_000_000 + "ms" : nanos % 1_000 == 0 ? nanos / 1_000 + "us" : nanos + "ns";
    }
    StringBuilder b = new StringBuilder();
    if (d.toHours() > 0) {
      b.append(d.toHours()).append('h');
    }
    if (d.toMinutesPart() > 0) {
      b.append(d.toMinutesPart()).append('m');
    }
    int nanos = d.toNanosPart();
    if (d.toSecondsPart() > 0 || nanos > 0) {
      b.append(d.toSecondsPart());
      if (nanos > 0) {
        String fraction = String.format("%09d", nanos);
        int end = fraction.length();
        while (fraction.charAt(end - 1) == '0') {
          end--;
        }
        b.append('.').append(fraction, 0, end);
      }
      b.append('s');
    }
    return b.toString();
  }
}
