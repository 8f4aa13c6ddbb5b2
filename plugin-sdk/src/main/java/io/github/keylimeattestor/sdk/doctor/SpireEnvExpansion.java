package io.github.keylimeattestor.sdk.doctor;

import java.util.function.UnaryOperator;

/**
 * What {@code spire-agent run -expandEnv} / {@code spire-server run -expandEnv} do to the
 * configuration file's text before parsing it (SPIRE's {@code config.ExpandEnv}, Go's
 * {@code os.Expand}): {@code $NAME} and {@code ${NAME}} become the variable's value, empty if it is
 * unset; {@code $$} is one {@code $}; a {@code $} before anything else is kept; {@code ${}} and an
 * unclosed {@code ${} are dropped. A file named by {@code plugin_data_file} is not expanded (SPIRE
 * reads it as is).
 */
public final class SpireEnvExpansion {
  private SpireEnvExpansion() {}

  /** {@code env} returns a variable's value or null when it is unset. */
  public static String expand(String text, UnaryOperator<String> env) {
    StringBuilder out = null;
    int copied = 0;
    for (int i = 0; i < text.length(); i++) {
      if (text.charAt(i) != '$' || i + 1 == text.length()) {
        continue;
      }
      if (out == null) {
        out = new StringBuilder(text.length());
      }
      out.append(text, copied, i);
      Reference ref = reference(text, i + 1);
      if (!ref.name.isEmpty()) {
        String value = ref.name.equals("$") ? "$" : env.apply(ref.name);
        out.append(value == null ? "" : value);
      } else if (ref.length == 0) {
        out.append('$');
      } // else malformed (${} or an unclosed ${): dropped, as Go drops it
      i += ref.length;
      copied = i + 1;
    }
    return out == null ? text : out.append(text, copied, text.length()).toString();
  }

  /** The variable named right after a '$' at {@code start}, and how many characters name it. */
  private record Reference(String name, int length) {}

  private static Reference reference(String text, int start) {
    char first = text.charAt(start);
    if (first == '{') {
      if (start + 2 < text.length() && isSpecial(text.charAt(start + 1)) && text.charAt(start + 2) == '}') {
        return new Reference(text.substring(start + 1, start + 2), 3);
      }
      int close = text.indexOf('}', start + 1);
      if (close < 0) {
        return new Reference("", 1);
      }
      return close == start + 1 ? new Reference("", 2) : new Reference(text.substring(start + 1, close), close - start + 1);
    }
    if (isSpecial(first)) {
      return new Reference(String.valueOf(first), 1);
    }
    int end = start;
    while (end < text.length() && isNameChar(text.charAt(end))) {
      end++;
    }
    return new Reference(text.substring(start, end), end - start);
  }

  /** Go's shell special variables: one character is the whole name. */
  private static boolean isSpecial(char c) {
    return "*#$@!?-0123456789".indexOf(c) >= 0;
  }

  private static boolean isNameChar(char c) {
    return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z';
  }
}
