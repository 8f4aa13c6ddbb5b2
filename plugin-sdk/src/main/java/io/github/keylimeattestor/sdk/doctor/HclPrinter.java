package io.github.keylimeattestor.sdk.doctor;

import java.util.List;
import java.util.Map;

/** Prints a parsed HCL body back as HCL text (strings quoted, nested blocks, lists). */
final class HclPrinter {
  private HclPrinter() {}

  static String print(Map<String, Object> body) {
    StringBuilder sb = new StringBuilder();
    body(sb, body, "");
    return sb.toString();
  }

  private static void body(StringBuilder sb, Map<String, Object> body, String indent) {
    for (Map.Entry<String, Object> e : body.entrySet()) {
      List<?> values = e.getValue() instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof Map ? l
          : List.of(e.getValue());
      for (Object v : values) {
        sb.append(indent).append(quote(e.getKey()));
        if (v instanceof Map<?, ?> m) {
          sb.append(" {\n");
          @SuppressWarnings("unchecked")
          Map<String, Object> inner = (Map<String, Object>) m;
          body(sb, inner, indent + "  ");
          sb.append(indent).append("}\n");
        } else {
          sb.append(" = ").append(value(v)).append('\n');
        }
      }
    }
  }

  private static String value(Object v) {
    if (v instanceof String s) {
      return quote(s);
    }
    if (v instanceof List<?> l) {
      StringBuilder sb = new StringBuilder("[");
      for (int i = 0; i < l.size(); i++) {
        sb.append(i == 0 ? "" : ", ").append(value(l.get(i)));
      }
      return sb.append(']').toString();
    }
    return String.valueOf(v);
  }

  private static String quote(String s) {
    return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + '"';
  }
}
