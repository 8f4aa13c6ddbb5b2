package io.github.keylimeattestor.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A TOML 1.0 document (https://toml.io/en/v1.0.0) read into nested maps: tables are {@code Map<String,
 * Object>}, arrays {@code List<Object>}, strings {@code String}, integers {@code Long}, floats {@code
 * Double}, booleans {@code Boolean}, dates and times {@link DateTime} (their text). The whole document is
 * checked (syntax, strings, numbers, keys and tables defined once), so that a file which is no TOML
 * is refused rather than half read. Ours, and small, because jackson-dataformat-toml reads through
 * jackson-databind's tree, and the agent plugin needs one key of rust-keylime's agent.conf.
 */
final class Toml {

  /** A date, time or date-time value, as written. */
  record DateTime(String text) {}

  /** The document is not TOML; the message names the line. */
  static final class SyntaxException extends IOException {
    private static final long serialVersionUID = 1L;

    SyntaxException(String message) {
      super(message);
    }
  }

  private static final Pattern DEC_INT = Pattern.compile("[+-]?(0|[1-9](_?[0-9])*)");
  private static final Pattern HEX_INT = Pattern.compile("0x[0-9A-Fa-f](_?[0-9A-Fa-f])*");
  private static final Pattern OCT_INT = Pattern.compile("0o[0-7](_?[0-7])*");
  private static final Pattern BIN_INT = Pattern.compile("0b[01](_?[01])*");
  private static final Pattern FLOAT = Pattern.compile(
      "[+-]?(0|[1-9](_?[0-9])*)((\\.[0-9](_?[0-9])*)([eE][+-]?[0-9](_?[0-9])*)?|[eE][+-]?[0-9](_?[0-9])*)");
  private static final Pattern SPECIAL_FLOAT = Pattern.compile("[+-]?(inf|nan)");
  private static final String DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}";
  private static final String TIME = "[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?";
  private static final Pattern DATE_TIME = Pattern.compile(
      DATE + "([Tt ]" + TIME + "([Zz]|[+-][0-9]{2}:[0-9]{2})?)?|" + TIME);
  private static final Pattern DATE_THEN_TIME = Pattern.compile(DATE + " [0-9]{2}:");

  /**
   * Arrays and inline tables nested deeper are refused: the reader recurses, and the plugin runs
   * with 256 KiB thread stacks (agent.conf nests nothing).
   */
  static final int MAX_DEPTH = 100;

  private final String s;
  private int at;
  private int depth;
  private final Map<String, Object> root = new LinkedHashMap<>();
  /** Tables given by a [header], by dotted keys, and inline tables (closed once written). */
  private final Set<Object> headerTables = identitySet();
  private final Set<Object> dottedTables = identitySet();
  private final Set<Object> inlineTables = identitySet();
  /** Arrays made by [[header]]s (only these take more [[ ]] entries). */
  private final Set<Object> tableArrays = identitySet();

  private Toml(String s) {
    this.s = s;
  }

  private static Set<Object> identitySet() {
    return Collections.newSetFromMap(new IdentityHashMap<>());
  }

  /** The document in UTF-8 (malformed UTF-8 is refused). */
  static Map<String, Object> parse(byte[] utf8) throws SyntaxException {
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(utf8)).toString();
    } catch (CharacterCodingException e) {
      throw new SyntaxException("not UTF-8 text");
    }
    return parse(text);
  }

  static Map<String, Object> parse(String text) throws SyntaxException {
    Toml t = new Toml(text.startsWith("\uFEFF") ? text.substring(1) : text);
    t.document();
    return t.root;
  }

  private void document() throws SyntaxException {
    Map<String, Object> table = root;
    while (at < s.length()) {
      skipBlanks();
      if (at >= s.length()) {
        break;
      }
      char c = s.charAt(at);
      if (c == '#' || c == '\n' || c == '\r') {
        endOfLine();
        continue;
      }
      if (c == '[') {
        table = header();
      } else {
        keyValue(table);
      }
      endOfLine();
    }
  }

  // ---- tables

  private Map<String, Object> header() throws SyntaxException {
    boolean array = s.startsWith("[[", at);
    at += array ? 2 : 1;
    skipBlanks();
    List<String> key = key();
    expect(array ? "]]" : "]");
    Map<String, Object> parent = root;
    for (int i = 0; i < key.size() - 1; i++) {
      parent = walk(parent, key.get(i), false);
    }
    String last = key.get(key.size() - 1);
    Object v = parent.get(last);
    if (array) {
      List<Object> list;
      if (v == null) {
        list = new ArrayList<>();
        tableArrays.add(list);
        parent.put(last, list);
      } else if (tableArrays.contains(v)) {
        @SuppressWarnings("unchecked")
        List<Object> l = (List<Object>) v;
        list = l;
      } else {
        throw error("[[" + String.join(".", key) + "]] names a key that is already defined and not an array of tables");
      }
      Map<String, Object> t = new LinkedHashMap<>();
      headerTables.add(t);
      list.add(t);
      return t;
    }
    if (v == null) {
      Map<String, Object> t = new LinkedHashMap<>();
      headerTables.add(t);
      parent.put(last, t);
      return t;
    }
    if (!(v instanceof Map) || headerTables.contains(v) || dottedTables.contains(v) || inlineTables.contains(v)) {
      throw error("table [" + String.join(".", key) + "] is defined twice");
    }
    headerTables.add(v);
    @SuppressWarnings("unchecked")
    Map<String, Object> t = (Map<String, Object>) v;
    return t;
  }

  /**
   * The table {@code name} in {@code parent}, made if absent. Through a header, an array of tables
   * stands for its last table; through a dotted key only tables made by dotted keys may be extended.
   */
  private Map<String, Object> walk(Map<String, Object> parent, String name, boolean dotted) throws SyntaxException {
    Object v = parent.get(name);
    if (v == null) {
      Map<String, Object> t = new LinkedHashMap<>();
      if (dotted) {
        dottedTables.add(t);
      }
      parent.put(name, t);
      return t;
    }
    if (!dotted && tableArrays.contains(v)) {
      List<?> l = (List<?>) v;
      v = l.get(l.size() - 1);
    }
    if (!(v instanceof Map) || inlineTables.contains(v) || (dotted && !dottedTables.contains(v))) {
      throw error("key '" + name + "' is already defined as something that cannot take more keys here");
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> t = (Map<String, Object>) v;
    return t;
  }

  private void keyValue(Map<String, Object> table) throws SyntaxException {
    List<String> key = key();
    skipBlanks();
    expect("=");
    skipBlanks();
    Object value = value();
    Map<String, Object> t = table;
    for (int i = 0; i < key.size() - 1; i++) {
      t = walk(t, key.get(i), true);
    }
    String last = key.get(key.size() - 1);
    if (t.containsKey(last)) {
      throw error("key '" + String.join(".", key) + "' is defined twice");
    }
    t.put(last, value);
  }

  // ---- keys

  private List<String> key() throws SyntaxException {
    List<String> parts = new ArrayList<>();
    while (true) {
      parts.add(simpleKey());
      skipBlanks();
      if (at < s.length() && s.charAt(at) == '.') {
        at++;
        skipBlanks();
      } else {
        return parts;
      }
    }
  }

  private String simpleKey() throws SyntaxException {
    if (at < s.length() && s.charAt(at) == '"' && !s.startsWith("\"\"\"", at)) {
      return basicString();
    }
    if (at < s.length() && s.charAt(at) == '\'' && !s.startsWith("'''", at)) {
      return literalString();
    }
    int start = at;
    while (at < s.length() && isBareKeyChar(s.charAt(at))) {
      at++;
    }
    if (start == at) {
      throw error("a key is expected");
    }
    return s.substring(start, at);
  }

  private static boolean isBareKeyChar(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  }

  // ---- values

  private Object value() throws SyntaxException {
    if (at >= s.length()) {
      throw error("a value is expected");
    }
    char c = s.charAt(at);
    if (s.startsWith("\"\"\"", at)) {
      return multiLineBasicString();
    }
    if (c == '"') {
      return basicString();
    }
    if (s.startsWith("'''", at)) {
      return multiLineLiteralString();
    }
    if (c == '\'') {
      return literalString();
    }
    if (c == '[' || c == '{') {
      if (++depth > MAX_DEPTH) {
        throw error("arrays and inline tables nested deeper than " + MAX_DEPTH);
      }
      Object v = c == '[' ? array() : inlineTable();
      depth--;
      return v;
    }
    return bareValue();
  }

  private Object bareValue() throws SyntaxException {
    int start = at;
    if (DATE_THEN_TIME.matcher(s).region(at, s.length()).lookingAt()) {
      at += 11; // a local date-time may have a space between date and time
    }
    while (at < s.length() && (isBareKeyChar(s.charAt(at)) || "+.:".indexOf(s.charAt(at)) >= 0)) {
      at++;
    }
    String v = s.substring(start, at);
    if (v.equals("true") || v.equals("false")) {
      return Boolean.valueOf(v);
    }
    try {
      if (DEC_INT.matcher(v).matches()) {
        return Long.parseLong(v.replace("_", ""));
      }
      if (HEX_INT.matcher(v).matches() || OCT_INT.matcher(v).matches() || BIN_INT.matcher(v).matches()) {
        int radix = v.charAt(1) == 'x' ? 16 : v.charAt(1) == 'o' ? 8 : 2;
        return Long.parseLong(v.substring(2).replace("_", ""), radix);
      }
    } catch (NumberFormatException e) {
      throw error("integer " + v + " does not fit in 64 bits");
    }
    if (FLOAT.matcher(v).matches()) {
      return Double.parseDouble(v.replace("_", ""));
    }
    if (SPECIAL_FLOAT.matcher(v).matches()) {
      return v.endsWith("nan") ? Double.NaN : v.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
    }
    if (DATE_TIME.matcher(v).matches()) {
      checkDateTime(v);
      return new DateTime(v);
    }
    throw error(v.isEmpty() ? "a value is expected" : "'" + v + "' is no TOML value (strings are quoted)");
  }

  /** Field ranges (RFC 3339: a second may be 60, a leap second); the form is checked by DATE_TIME. */
  private void checkDateTime(String v) throws SyntaxException {
    int time = 0;
    if (v.length() >= 10 && v.charAt(4) == '-') {
      try {
        LocalDate.parse(v.substring(0, 10));
      } catch (DateTimeParseException e) {
        throw error("no such date: " + v.substring(0, 10));
      }
      time = 11;
    }
    if (v.length() > time) {
      int h = Integer.parseInt(v.substring(time, time + 2));
      int m = Integer.parseInt(v.substring(time + 3, time + 5));
      int sec = Integer.parseInt(v.substring(time + 6, time + 8));
      if (h > 23 || m > 59 || sec > 60) {
        throw error("no such time: " + v.substring(time));
      }
      int sign = Math.max(v.lastIndexOf('+'), v.lastIndexOf('-'));
      if (sign > time) {
        int oh = Integer.parseInt(v.substring(sign + 1, sign + 3));
        int om = Integer.parseInt(v.substring(sign + 4, sign + 6));
        if (oh > 23 || om > 59) {
          throw error("no such time offset: " + v.substring(sign));
        }
      }
    }
  }

  private List<Object> array() throws SyntaxException {
    at++; // [
    List<Object> out = new ArrayList<>();
    while (true) {
      skipBlanksCommentsAndNewlines();
      if (at < s.length() && s.charAt(at) == ']') {
        at++;
        return out;
      }
      out.add(value());
      skipBlanksCommentsAndNewlines();
      if (at < s.length() && s.charAt(at) == ',') {
        at++;
      } else if (at < s.length() && s.charAt(at) == ']') {
        at++;
        return out;
      } else {
        throw error("',' or ']' is expected in an array");
      }
    }
  }

  private Map<String, Object> inlineTable() throws SyntaxException {
    at++; // {
    Map<String, Object> t = new LinkedHashMap<>();
    skipBlanks();
    if (at < s.length() && s.charAt(at) == '}') {
      at++;
      inlineTables.add(t);
      return t;
    }
    while (true) {
      skipBlanks();
      keyValue(t);
      skipBlanks();
      if (at < s.length() && s.charAt(at) == ',') {
        at++;
      } else if (at < s.length() && s.charAt(at) == '}') {
        at++;
        inlineTables.add(t);
        closeInline(t);
        return t;
      } else {
        throw error("',' or '}' is expected in an inline table (on one line)");
      }
    }
  }

  /** Tables made by dotted keys inside an inline table are closed with it (a loop: keys may be long). */
  private void closeInline(Map<String, Object> t) {
    java.util.ArrayDeque<Map<?, ?>> open = new java.util.ArrayDeque<>();
    open.add(t);
    while (!open.isEmpty()) {
      for (Object v : open.poll().values()) {
        if (v instanceof Map<?, ?> m && dottedTables.remove(m)) {
          inlineTables.add(m);
          open.add(m);
        }
      }
    }
  }

  // ---- strings

  private String basicString() throws SyntaxException {
    at++; // "
    StringBuilder b = new StringBuilder();
    while (true) {
      if (at >= s.length()) {
        throw error("a string is not closed");
      }
      char c = s.charAt(at++);
      if (c == '"') {
        return b.toString();
      }
      if (c == '\\') {
        escape(b);
      } else if (c == '\n' || c == '\r') {
        throw error("a string is not closed on its line");
      } else {
        b.append(checkedChar(c));
      }
    }
  }

  private String multiLineBasicString() throws SyntaxException {
    at += 3;
    skipNewline();
    StringBuilder b = new StringBuilder();
    while (true) {
      if (at >= s.length()) {
        throw error("a multi-line string is not closed");
      }
      if (s.startsWith("\"\"\"", at)) {
        int quotes = 3;
        while (quotes < 5 && at + quotes < s.length() && s.charAt(at + quotes) == '"') {
          quotes++;
        }
        b.append("\"".repeat(quotes - 3));
        at += quotes;
        return b.toString();
      }
      char c = s.charAt(at++);
      if (c == '\\') {
        int back = at;
        skipBlanks();
        if (at < s.length() && (s.charAt(at) == '\n' || s.startsWith("\r\n", at))) {
          while (at < s.length() && " \t\r\n".indexOf(s.charAt(at)) >= 0) {
            if (s.charAt(at) == '\r' && !s.startsWith("\r\n", at)) {
              throw error("a carriage return without a line feed");
            }
            at++;
          }
        } else {
          at = back;
          escape(b);
        }
      } else if (c == '\r') {
        if (at >= s.length() || s.charAt(at) != '\n') {
          throw error("a carriage return without a line feed");
        }
        b.append('\n');
        at++;
      } else if (c == '\n') {
        b.append('\n');
      } else {
        b.append(checkedChar(c));
      }
    }
  }

  private String literalString() throws SyntaxException {
    at++; // '
    int start = at;
    while (at < s.length() && s.charAt(at) != '\'') {
      char c = s.charAt(at);
      if (c == '\n' || c == '\r') {
        throw error("a string is not closed on its line");
      }
      checkedChar(c);
      at++;
    }
    if (at >= s.length()) {
      throw error("a string is not closed");
    }
    return s.substring(start, at++);
  }

  private String multiLineLiteralString() throws SyntaxException {
    at += 3;
    skipNewline();
    int start = at;
    int end = s.indexOf("'''", at);
    if (end < 0) {
      throw error("a multi-line string is not closed");
    }
    int quotes = 3; // up to two quotes may end the content: ''''' closes ''
    while (quotes < 5 && end + quotes < s.length() && s.charAt(end + quotes) == '\'') {
      quotes++;
    }
    String v = s.substring(start, end + quotes - 3);
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '\r' && (i + 1 >= v.length() || v.charAt(i + 1) != '\n')) {
        throw error("a carriage return without a line feed");
      }
      if (c != '\n' && c != '\r') {
        checkedChar(c);
      }
    }
    at = end + quotes;
    return v.replace("\r\n", "\n");
  }

  private void skipNewline() {
    if (s.startsWith("\n", at)) {
      at++;
    } else if (s.startsWith("\r\n", at)) {
      at += 2;
    }
  }

  private void escape(StringBuilder b) throws SyntaxException {
    if (at >= s.length()) {
      throw error("a string is not closed");
    }
    char e = s.charAt(at++);
    switch (e) {
      case 'b' -> b.append('\b');
      case 't' -> b.append('\t');
      case 'n' -> b.append('\n');
      case 'f' -> b.append('\f');
      case 'r' -> b.append('\r');
      case '"' -> b.append('"');
      case '\\' -> b.append('\\');
      case 'u', 'U' -> {
        int n = e == 'u' ? 4 : 8;
        if (at + n > s.length() || !s.substring(at, at + n).matches("[0-9A-Fa-f]+")) {
          throw error("\\" + e + " needs " + n + " hex digits");
        }
        int cp = Integer.parseInt(s.substring(at, at + n), 16);
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          throw error("\\" + e + s.substring(at, at + n) + " is no Unicode scalar value");
        }
        b.appendCodePoint(cp);
        at += n;
      }
      default -> throw error("\\" + e + " is no TOML escape");
    }
  }

  private char checkedChar(char c) throws SyntaxException {
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      throw error("control character U+" + String.format("%04X", (int) c) + " must be escaped");
    }
    return c;
  }

  // ---- white space, comments, lines

  private void skipBlanks() {
    while (at < s.length() && (s.charAt(at) == ' ' || s.charAt(at) == '\t')) {
      at++;
    }
  }

  private void skipBlanksCommentsAndNewlines() throws SyntaxException {
    while (true) {
      skipBlanks();
      if (at >= s.length()) {
        return;
      }
      char c = s.charAt(at);
      if (c == '#') {
        comment();
      } else if (c == '\n') {
        at++;
      } else if (s.startsWith("\r\n", at)) {
        at += 2;
      } else {
        return;
      }
    }
  }

  private void comment() throws SyntaxException {
    while (at < s.length() && s.charAt(at) != '\n' && !s.startsWith("\r\n", at)) {
      checkedChar(s.charAt(at));
      at++;
    }
  }

  /** Blanks, an optional comment, then a newline or the end of the document. */
  private void endOfLine() throws SyntaxException {
    skipBlanks();
    if (at < s.length() && s.charAt(at) == '#') {
      comment();
    }
    if (at >= s.length()) {
      return;
    }
    if (s.charAt(at) == '\n') {
      at++;
    } else if (s.startsWith("\r\n", at)) {
      at += 2;
    } else {
      throw error("unexpected '" + s.charAt(at) + "' (one key = value or [table] per line)");
    }
  }

  private void expect(String token) throws SyntaxException {
    if (!s.startsWith(token, at)) {
      throw error("'" + token + "' is expected");
    }
    at += token.length();
  }

  private SyntaxException error(String problem) {
    int line = 1;
    for (int i = 0; i < Math.min(at, s.length()); i++) {
      if (s.charAt(i) == '\n') {
        line++;
      }
    }
    return new SyntaxException("line " + line + ": " + problem);
  }
}
