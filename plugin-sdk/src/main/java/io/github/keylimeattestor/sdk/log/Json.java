package io.github.keylimeattestor.sdk.log;

/** The few lines of JSON encoding the log needs (no JSON library on the plugin's start-up path). */
final class Json {
  private Json() {}

  static void value(StringBuilder b, Object v) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short) {
      b.append(v);
    } else if (v instanceof Throwable t) {
      quote(b, t.getClass().getSimpleName() + ": " + t.getMessage());
    } else {
      quote(b, String.valueOf(v));
    }
  }

  /**
   * Longest string written whole, in characters: go-plugin reads the plugin's stderr in lines of at
   * most 64 KiB and logs a longer one, split, as plain text. Our lines carry a few fields, most short,
   * so they stay far under that; one made only of escaped control characters could still pass it.
   */
  static final int MAX_STRING = 4096;

  static void quote(StringBuilder b, String s) {
    int cut = s.length() > MAX_STRING ? MAX_STRING : s.length();
    if (cut < s.length() && Character.isHighSurrogate(s.charAt(cut - 1))) {
      cut--;
    }
    b.append('"');
    for (int i = 0; i < cut; i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    if (cut < s.length()) {
      b.append("... (").append(s.length() - cut).append(" more characters)");
    }
    b.append('"');
  }
}
