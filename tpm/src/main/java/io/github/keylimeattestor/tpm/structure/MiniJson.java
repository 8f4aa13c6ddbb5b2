package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.TpmFormatException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict, bounded JSON reader for small files like agent_data.json (objects, arrays, strings,
 * integers, true/false/null). Produces Map, List, String, Long, Boolean or null.
 */
final class MiniJson {
  private static final int MAX_DEPTH = 16;
  private final String s;
  private int pos;

  private MiniJson(String s) {
    this.s = s;
  }

  static Object parse(String text) throws TpmFormatException {
    MiniJson p = new MiniJson(text);
    Object v = p.value(0);
    p.ws();
    if (p.pos != text.length()) {
      throw p.error("trailing characters");
    }
    return v;
  }

  private TpmFormatException error(String what) {
    return new TpmFormatException("invalid JSON at offset " + pos + ": " + what);
  }

  private void ws() {
    while (pos < s.length() && " \t\r\n".indexOf(s.charAt(pos)) >= 0) {
      pos++;
    }
  }

  private char peek() throws TpmFormatException {
    ws();
    if (pos >= s.length()) {
      throw error("unexpected end");
    }
    return s.charAt(pos);
  }

  private void expect(char c) throws TpmFormatException {
    if (peek() != c) {
      throw error("expected '" + c + "'");
    }
    pos++;
  }

  private Object value(int depth) throws TpmFormatException {
    if (depth > MAX_DEPTH) {
      throw error("nesting too deep");
    }
    char c = peek();
    if (c == '{') {
      pos++;
      Map<String, Object> m = new LinkedHashMap<>();
      if (peek() == '}') {
        pos++;
        return m;
      }
      while (true) {
        if (peek() != '"') {
          throw error("expected a key");
        }
        String k = string();
        expect(':');
        if (m.put(k, value(depth + 1)) != null) {
          throw error("duplicate key " + k);
        }
        char d = peek();
        pos++;
        if (d == '}') {
          return m;
        }
        if (d != ',') {
          throw error("expected ',' or '}'");
        }
      }
    }
    if (c == '[') {
      pos++;
      List<Object> l = new ArrayList<>();
      if (peek() == ']') {
        pos++;
        return l;
      }
      while (true) {
        l.add(value(depth + 1));
        char d = peek();
        pos++;
        if (d == ']') {
          return l;
        }
        if (d != ',') {
          throw error("expected ',' or ']'");
        }
      }
    }
    if (c == '"') {
      return string();
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      int start = pos;
      if (c == '-') {
        pos++;
      }
      while (pos < s.length() && Character.isDigit(s.charAt(pos))) {
        pos++;
      }
      if (pos < s.length() && ".eE".indexOf(s.charAt(pos)) >= 0) {
        throw error("only integers are supported");
      }
      String num = s.substring(start, pos);
      if (num.equals("-") || num.length() > 18) {
        throw error("bad number " + num);
      }
      return Long.parseLong(num);
    }
    for (String lit : new String[] {"true", "false", "null"}) {
      if (s.startsWith(lit, pos)) {
        pos += lit.length();
        return lit.equals("null") ? null : Boolean.valueOf(lit);
      }
    }
    throw error("unexpected character '" + c + "'");
  }

  private String string() throws TpmFormatException {
    expect('"');
    StringBuilder b = new StringBuilder();
    while (true) {
      if (pos >= s.length()) {
        throw error("unterminated string");
      }
      char c = s.charAt(pos++);
      if (c == '"') {
        return b.toString();
      }
      if (c < 0x20) {
        throw error("control character in string");
      }
      if (c != '\\') {
        b.append(c);
        continue;
      }
      if (pos >= s.length()) {
        throw error("unterminated escape");
      }
      char e = s.charAt(pos++);
      switch (e) {
        case '"': case '\\': case '/': b.append(e); break;
        case 'b': b.append('\b'); break;
        case 'f': b.append('\f'); break;
        case 'n': b.append('\n'); break;
        case 'r': b.append('\r'); break;
        case 't': b.append('\t'); break;
        case 'u':
          if (pos + 4 > s.length()) {
            throw error("short \\u escape");
          }
          try {
            b.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
          } catch (NumberFormatException ex) {
            throw error("bad \\u escape");
          }
          pos += 4;
          break;
        default: throw error("bad escape \\" + e);
      }
    }
  }
}
