package io.github.keylimeattestor.sdk.hcl;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the HCL v1 subset that SPIRE hands a plugin as {@code plugin_data}: SPIRE re-prints the
 * block body with the HCL v1 printer (no outer braces), or passes a {@code plugin_data_file} verbatim.
 *
 * <p>Supported: {@code key = value} with unquoted or quoted keys; strings with escapes; heredocs;
 * integers, floats, booleans; lists (trailing comma allowed); objects ({@code key = { ... }});
 * blocks ({@code name { ... }}, {@code name "label" { ... }}); {@code #}, {@code //} and
 * {@code /* *}{@code /} comments; commas or newlines between items.
 *
 * <p>Result: an insertion-ordered map. Values are {@link String}, {@link Long}, {@link Double},
 * {@link Boolean}, {@code List<Object>} or {@code Map<String, Object>}. A labelled block becomes
 * nested maps ({@code name -> label -> body}). A key given more than once becomes a list of its values
 * (that is how HCL v1 decodes repeated blocks); {@link HclConfig} rejects that for scalars.
 */
public final class HclParser {
  /**
   * Longest configuration text accepted; plugin_data is a few hundred bytes in practice. Even in
   * 3-byte UTF-8 it fits the plugin's 64 KiB gRPC message bound.
   */
  public static final int MAX_LENGTH = 16 * 1024;

  static final int MAX_DEPTH = 32;

  private final String src;
  private int pos;
  private int depth;

  private HclParser(String src) {
    this.src = src;
  }

  public static Map<String, Object> parse(String text) throws HclException {
    return parse(text, MAX_LENGTH);
  }

  /** As {@link #parse(String)} for a longer text: a whole SPIRE configuration file ({@code doctor}). */
  public static Map<String, Object> parse(String text, int maxLength) throws HclException {
    if (text == null) {
      return new LinkedHashMap<>();
    }
    if (text.length() > maxLength) {
      throw new HclException("configuration is longer than " + maxLength + " characters");
    }
    if (text.stripLeading().startsWith("{")) {
      return JsonConfig.parse(text, "the configuration (JSON, as it starts with '{')");
    }
    HclParser p = new HclParser(text);
    Map<String, Object> body = p.body(false);
    p.skipSpaceAndComments(true);
    if (p.pos < p.src.length()) {
      throw p.error("unexpected '" + p.src.charAt(p.pos) + "'");
    }
    return body;
  }

  private Map<String, Object> body(boolean braced) throws HclException {
    if (++depth > MAX_DEPTH) {
      throw error("nesting deeper than " + MAX_DEPTH + " levels");
    }
    Map<String, Object> out = new LinkedHashMap<>();
    while (true) {
      skipSpaceAndComments(true);
      if (pos >= src.length()) {
        if (braced) {
          throw error("missing '}'");
        }
        break;
      }
      char c = src.charAt(pos);
      if (c == '}') {
        if (!braced) {
          throw error("unexpected '}'");
        }
        pos++;
        break;
      }
      if (c == ',') {
        pos++;
        continue;
      }
      String key = key();
      skipSpaceAndComments(true); // HCL v1 takes line breaks for spaces here: a block's '{' may be on the next line
      Object value;
      if (peek() == '=' || peek() == ':') {
        pos++;
        skipSpaceAndComments(true);
        value = value();
      } else {
        value = block();
      }
      put(out, key, value);
    }
    depth--;
    return out;
  }

  /** {@code "label"* { body }} after a block name. */
  private Object block() throws HclException {
    if (peek() == '{') {
      pos++;
      return body(true);
    }
    if (peek() == '"' || isIdentStart(peek())) {
      // each label nests one level, as a body does
      if (++depth > MAX_DEPTH) {
        throw error("nesting deeper than " + MAX_DEPTH + " levels");
      }
      String label = key();
      skipSpaceAndComments(true);
      Map<String, Object> wrapper = new LinkedHashMap<>();
      wrapper.put(label, block());
      depth--;
      return wrapper;
    }
    throw error("expected '=' or '{' after a key");
  }

  private static void put(Map<String, Object> out, String key, Object value) {
    if (!out.containsKey(key)) {
      out.put(key, value);
      return;
    }
    Object old = out.get(key);
    List<Object> list;
    if (old instanceof Repeated r) {
      list = r;
    } else {
      list = new Repeated();
      list.add(old);
      out.put(key, list);
    }
    list.add(value);
  }

  /** Marks a list made from a repeated key, as opposed to a list literal. */
  static final class Repeated extends ArrayList<Object> {
    private static final long serialVersionUID = 1L;
  }

  private String key() throws HclException {
    char c = peek();
    if (c == '"') {
      return string();
    }
    if (!isIdentStart(c)) {
      throw error("expected a key");
    }
    int start = pos;
    while (pos < src.length() && isIdentPart(src.charAt(pos))) {
      pos++;
    }
    return src.substring(start, pos);
  }

  private Object value() throws HclException {
    char c = peek();
    if (c == '"') {
      return string();
    }
    if (c == '<' && src.startsWith("<<", pos)) {
      return heredoc();
    }
    if (c == '[') {
      return list();
    }
    if (c == '{') {
      pos++;
      return body(true);
    }
    if (c == '-' || c == '.' || (c >= '0' && c <= '9')) { // no '+': HCL v1 has no unary plus
      return number();
    }
    if (isIdentStart(c)) {
      String word = key();
      if (word.equals("true")) {
        return Boolean.TRUE;
      }
      if (word.equals("false")) {
        return Boolean.FALSE;
      }
      throw error("unquoted value '" + word + "' (strings need double quotes)");
    }
    throw error(pos >= src.length() ? "missing value" : "unexpected '" + c + "'");
  }

  private List<Object> list() throws HclException {
    if (++depth > MAX_DEPTH) {
      throw error("nesting deeper than " + MAX_DEPTH + " levels");
    }
    pos++; // [
    List<Object> out = new ArrayList<>();
    while (true) {
      skipSpaceAndComments(true);
      if (peek() == ']') {
        pos++;
        break;
      }
      out.add(value());
      skipSpaceAndComments(true);
      if (peek() == ',') {
        pos++;
      } else if (peek() != ']') {
        throw error("expected ',' or ']' in a list");
      }
    }
    depth--;
    return out;
  }

  private Object number() throws HclException {
    int start = pos;
    if (peek() == '-') {
      pos++;
    }
    boolean isFloat = false;
    if (src.startsWith("0x", pos) || src.startsWith("0X", pos)) {
      pos += 2;
      int digits = pos;
      while (pos < src.length() && Character.digit(src.charAt(pos), 16) >= 0) {
        pos++;
      }
      try {
        long v = Long.parseLong(src.substring(digits, pos), 16);
        return src.charAt(start) == '-' ? -v : v;
      } catch (NumberFormatException e) {
        throw error("bad hexadecimal number");
      }
    }
    while (pos < src.length()) {
      char c = src.charAt(pos);
      if (c >= '0' && c <= '9') {
        pos++;
      } else if (c == '.' || c == 'e' || c == 'E') {
        isFloat = true;
        pos++;
        if ((c == 'e' || c == 'E') && (peek() == '-' || peek() == '+')) {
          pos++;
        }
      } else {
        break;
      }
    }
    String text = src.substring(start, pos);
    String digits = text.startsWith("-") ? text.substring(1) : text;
    try {
      if (!isFloat && digits.length() > 1 && digits.charAt(0) == '0') {
        // as HCL (Go's ParseInt with base 0): a leading 0 makes it octal, so 010 is 8 and 08 is an error
        long v = Long.parseLong(digits.substring(1), 8);
        return text.startsWith("-") ? -v : v;
      }
      if (isFloat) {
        double d = Double.parseDouble(text);
        if (Double.isInfinite(d)) {
          throw error("number '" + text + "' is out of range"); // Go's ParseFloat refuses it too
        }
        return d;
      }
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw error("bad number '" + text + "'");
    }
  }

  private String string() throws HclException {
    pos++; // opening quote
    StringBuilder b = new StringBuilder();
    EscapedBytes bytes = new EscapedBytes();
    while (true) {
      if (pos >= src.length()) {
        throw error("unterminated string");
      }
      char c = src.charAt(pos++);
      if (c == '"') {
        bytes.flushTo(b);
        return b.toString();
      }
      if (c == '\n') {
        throw error("newline in a string");
      }
      if (c == 0) {
        throw error("a NUL character in a string: no setting can hold one");
      }
      if (c == '$' && pos < src.length() && src.charAt(pos) == '{') {
        // HCL v1 keeps "${...}" as it is, and inside it a quote does not end the string nor is an
        // escape decoded: "${NAME}" (SPIRE's -expandEnv form) reads the same either way, anything
        // with a quote, backslash, brace or line break inside would not, and is refused
        int close = src.indexOf('}', pos);
        String inside = close < 0 ? null : src.substring(pos + 1, close);
        if (inside == null || inside.chars().anyMatch(ch -> ch == '"' || ch == '\\' || ch == '{' || ch == '\n')) {
          throw error("'${' in a string with a quote, backslash, brace or line break before its '}': SPIRE's HCL "
              + "parser reads such a string differently; write the value without it");
        }
        bytes.flushTo(b);
        b.append("${").append(inside).append('}');
        pos = close + 1;
        continue;
      }
      if (c != '\\') {
        bytes.flushTo(b);
        b.append(c);
        continue;
      }
      if (pos >= src.length()) {
        throw error("unterminated string");
      }
      char e = src.charAt(pos++);
      if (e == 'x' || (e >= '0' && e <= '7')) {
        bytes.add(byteEscape(e));
        continue;
      }
      bytes.flushTo(b);
      switch (e) {
        case 'n' -> b.append('\n');
        case 't' -> b.append('\t');
        case 'r' -> b.append('\r');
        case 'a' -> b.append('\u0007');
        case 'b' -> b.append('\b');
        case 'f' -> b.append('\f');
        case 'v' -> b.append('\u000b');
        case '"' -> b.append('"');
        case '\\' -> b.append('\\');
        case 'u', 'U' -> {
          int n = e == 'u' ? 4 : 8;
          if (pos + n > src.length()) {
            throw error("bad unicode escape");
          }
          int cp = 0;
          for (int i = 0; i < n; i++) {
            int d = Character.digit(src.charAt(pos + i), 16);
            if (d < 0) {
              throw error("bad unicode escape");
            }
            cp = cp * 16 + d;
          }
          if (cp > Character.MAX_CODE_POINT || (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE)) {
            throw error("bad unicode escape");
          }
          if (cp == 0) {
            throw error("a NUL character (\\u0000) in a string: no setting can hold one");
          }
          b.appendCodePoint(cp);
          pos += n;
        }
        default -> throw error("unknown escape '\\" + e + "'");
      }
    }
  }

  /** The byte of a {@code \xHH} (two hex digits) or {@code \NNN} (three octal digits, up to 377) escape, as Go's. */
  private int byteEscape(char e) throws HclException {
    boolean hex = e == 'x';
    int start = hex ? pos : pos - 1;
    int n = hex ? 2 : 3;
    if (start + n > src.length()) {
      throw error("bad " + (hex ? "\\x" : "octal") + " escape");
    }
    int v = 0;
    for (int i = 0; i < n; i++) {
      int d = Character.digit(src.charAt(start + i), hex ? 16 : 8);
      if (d < 0) {
        throw error("bad " + (hex ? "\\x" : "octal") + " escape");
      }
      v = v * (hex ? 16 : 8) + d;
    }
    if (v > 0xff) {
      throw error("bad octal escape (above \\377)");
    }
    if (v == 0) {
      throw error("a NUL character in a string: no setting can hold one");
    }
    pos = start + n;
    return v;
  }

  /**
   * The bytes of consecutive {@code \x} and octal escapes: Go's strings are bytes, so "\xc3\xa9" is
   * "é". They must form UTF-8, as every configuration value does; HCL would pass other bytes on.
   */
  private final class EscapedBytes {
    private final java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();

    void add(int b) {
      pending.write(b);
    }

    void flushTo(StringBuilder b) throws HclException {
      if (pending.size() == 0) {
        return;
      }
      try {
        b.append(java.nio.charset.StandardCharsets.UTF_8.newDecoder()
            .decode(java.nio.ByteBuffer.wrap(pending.toByteArray())));
      } catch (java.nio.charset.CharacterCodingException e) {
        throw error("\\x or octal escapes that are not UTF-8: a configuration value must be text");
      }
      pending.reset();
    }
  }

  private String heredoc() throws HclException {
    pos += 2;
    boolean indented = peek() == '-';
    if (indented) {
      pos++;
    }
    int start = pos;
    while (pos < src.length() && isHeredocMarkerPart(src.charAt(pos))) {
      pos++;
    }
    String marker = src.substring(start, pos);
    if (peek() == '\r' && pos + 1 < src.length() && src.charAt(pos + 1) == '\n') {
      pos++; // CRLF
    }
    if (marker.isEmpty() || peek() != '\n') {
      throw error("bad heredoc marker (letters, digits and '_' only, then the end of the line)");
    }
    // HCL v1 takes a line for the closing marker only if it is at least as long, in bytes, as the
    // marker with its '-': "<<-EOT" is not closed by an unindented "EOT"
    int closingBytes = marker.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + (indented ? 1 : 0);
    pos++;
    List<String> lines = new ArrayList<>();
    while (pos < src.length()) {
      int eol = src.indexOf('\n', pos);
      String line = eol < 0 ? src.substring(pos) : src.substring(pos, eol);
      int lineBytes = line.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
      pos = eol < 0 ? src.length() : eol + 1;
      if (line.endsWith("\r")) {
        line = line.substring(0, line.length() - 1);
      }
      if (line.indexOf(0) >= 0) {
        throw error("a NUL character in a heredoc: no setting can hold one");
      }
      String indent = leadingSpace(line);
      if (lineBytes >= closingBytes && stripCarriageReturns(line.substring(indent.length())).equals(marker)) {
        // HCL v1 closes either kind at an indented marker; a plain << keeps that indentation as the
        // value's last characters ("a\n  "), which is what a Go plugin reads from the same text
        return indented ? unindent(lines, indent) : join(lines) + indent;
      }
      lines.add(line);
    }
    throw error("heredoc '" + marker + "' is not closed");
  }

  /** The line's leading white space, as the {@code [[:space:]]*} before HCL v1's closing marker. */
  private static String leadingSpace(String line) {
    int i = 0;
    while (i < line.length() && " \t\u000b\f\r".indexOf(line.charAt(i)) >= 0) {
      i++;
    }
    return line.substring(0, i);
  }

  /** As HCL's {@code <<-}: the closing marker's indentation comes off every line, if every line has it. */
  private static String unindent(List<String> lines, String indent) {
    if (!lines.stream().allMatch(l -> l.startsWith(indent))) {
      return join(lines);
    }
    return join(lines.stream().map(l -> l.substring(indent.length())).toList());
  }

  private static String join(List<String> lines) {
    StringBuilder b = new StringBuilder();
    lines.forEach(l -> b.append(l).append('\n'));
    return b.toString();
  }

  private void skipSpaceAndComments(boolean newlines) throws HclException {
    while (pos < src.length()) {
      char c = src.charAt(pos);
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        pos++;
      } else if (c == '#' || src.startsWith("//", pos)) {
        while (pos < src.length() && src.charAt(pos) != '\n') {
          pos++;
        }
      } else if (src.startsWith("/*", pos)) {
        int end = src.indexOf("*/", pos + 2);
        if (end < 0) {
          throw error("unterminated comment");
        }
        pos = end + 2;
      } else {
        return;
      }
    }
  }

  private char peek() {
    return pos < src.length() ? src.charAt(pos) : '\0';
  }

  private static boolean isIdentStart(char c) {
    return Character.isLetter(c) || c == '_';
  }

  /** HCL v1's heredoc anchor: its isLetter (with '_') and isDigit; no '-' or '.' as in identifiers. */
  private static boolean isHeredocMarkerPart(char c) {
    return Character.isLetterOrDigit(c) || c == '_';
  }

  /** As the {@code \r*} HCL v1 allows after a closing marker. */
  private static String stripCarriageReturns(String s) {
    int end = s.length();
    while (end > 0 && s.charAt(end - 1) == '\r') {
      end--;
    }
    return s.substring(0, end);
  }

  private static boolean isIdentPart(char c) {
    return Character.isLetterOrDigit(c) || c == '_' || c == '-' || c == '.';
  }

  private HclException error(String what) {
    int line = 1;
    int col = 1;
    for (int i = 0; i < Math.min(pos, src.length()); i++) {
      if (src.charAt(i) == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    return new HclException("plugin_data line " + line + ", column " + col + ": " + what);
  }
}
