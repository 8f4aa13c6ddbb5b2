package io.github.keylimeattestor.sdk.log;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * A logger that writes one hclog JSON object per line to stderr, the only format go-plugin hosts
 * (SPIRE) parse into their own log with the right level.
 *
 * <p>{@code @level}, {@code @message} and {@code @timestamp} are always JSON strings: go-plugin
 * type-asserts them and a non-string would panic the SPIRE process. The timestamp has exactly six
 * fractional digits, otherwise SPIRE treats the whole line as plain DEBUG text.
 *
 * <p>Fields are given as alternating key/value arguments: {@code log.info("configured", "uuid", u)}.
 */
public final class Log {
  private static volatile PrintStream sink = new PrintStream(System.err, true, StandardCharsets.UTF_8);
  private static volatile Level threshold = Level.DEBUG;

  private final String module;

  private Log(String module) {
    this.module = module;
  }

  public static Log named(String module) {
    return new Log(module);
  }

  /** Sends every later line to {@code out} (tests; the plugin keeps stderr). */
  public static void redirect(OutputStream out) {
    sink = new PrintStream(out, true, StandardCharsets.UTF_8);
  }

  public static void setThreshold(Level level) {
    threshold = level;
  }

  public Log child(String name) {
    return new Log(module + "." + name);
  }

  public boolean enabled(Level level) {
    return level.ordinal() >= threshold.ordinal();
  }

  public void trace(String message, Object... fields) {
    log(Level.TRACE, message, fields);
  }

  public void debug(String message, Object... fields) {
    log(Level.DEBUG, message, fields);
  }

  public void info(String message, Object... fields) {
    log(Level.INFO, message, fields);
  }

  public void warn(String message, Object... fields) {
    log(Level.WARN, message, fields);
  }

  public void error(String message, Object... fields) {
    log(Level.ERROR, message, fields);
  }

  public void log(Level level, String message, Object... fields) {
    if (!enabled(level)) {
      return;
    }
    String line;
    try {
      line = format(Instant.now(), level, module, message, fields);
    } catch (RuntimeException e) {
      // a field whose toString() throws must not take the caller (a gRPC or Netty thread) down with it
      line = format(Instant.now(), level, module, message, "log_error", e.getClass().getName());
    }
    // one write of the whole line: other writers to stderr (System.out points there) cannot split it
    byte[] bytes = (line + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    PrintStream out = sink;
    synchronized (out) {
      out.write(bytes, 0, bytes.length);
      out.flush();
    }
  }

  /** One hclog JSON line, without the newline. */
  static String format(Instant when, Level level, String module, String message, Object... fields) {
    StringBuilder b = new StringBuilder(128);
    b.append("{\"@level\":");
    Json.quote(b, level.wireName());
    b.append(",\"@message\":");
    Json.quote(b, message == null ? "" : message);
    b.append(",\"@timestamp\":\"");
    timestamp(b, when);
    b.append('"');
    b.append(",\"@module\":");
    Json.quote(b, module);
    for (int i = 0; i + 1 < fields.length; i += 2) {
      String key = String.valueOf(fields[i]);
      if (key.startsWith("@")) {
        key = "_" + key; // never let a field shadow (or retype) a reserved hclog key
      }
      b.append(',');
      Json.quote(b, key);
      b.append(':');
      Json.value(b, fields[i + 1]);
    }
    if (fields.length % 2 == 1) {
      b.append(",\"EXTRA_VALUE_AT_END\":");
      Json.value(b, fields[fields.length - 1]);
    }
    b.append('}');
    return b.toString();
  }

  /**
   * {@code when} in UTC as go-hclog writes it, {@code 2006-01-02T15:04:05.000000Z}, for years 1 to
   * 9999. By hand rather than with a DateTimeFormatter: building one loads and links about 60
   * java.time classes, a few milliseconds before the first log line, which precedes the handshake.
   */
  static void timestamp(StringBuilder b, Instant when) {
    long seconds = when.getEpochSecond();
    long days = Math.floorDiv(seconds, 86_400L);
    int secondOfDay = (int) Math.floorMod(seconds, 86_400L);
    // Proleptic Gregorian date of a day count (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
    long z = days + 719_468;
    long era = Math.floorDiv(z, 146_097);
    long dayOfEra = z - era * 146_097;
    long yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365;
    long dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
    long mp = (5 * dayOfYear + 2) / 153;
    long day = dayOfYear - (153 * mp + 2) / 5 + 1;
    long month = mp < 10 ? mp + 3 : mp - 9;
    long year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
    digits(b, year, 4).append('-');
    digits(b, month, 2).append('-');
    digits(b, day, 2).append('T');
    digits(b, secondOfDay / 3600, 2).append(':');
    digits(b, secondOfDay / 60 % 60, 2).append(':');
    digits(b, secondOfDay % 60, 2).append('.');
    digits(b, when.getNano() / 1000, 6).append('Z');
  }

  private static StringBuilder digits(StringBuilder b, long value, int width) {
    String s = Long.toString(value);
    for (int i = s.length(); i < width; i++) {
      b.append('0');
    }
    return b.append(s);
  }
}
