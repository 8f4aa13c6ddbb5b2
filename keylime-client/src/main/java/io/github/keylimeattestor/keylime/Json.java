package io.github.keylimeattestor.keylime;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * An immutable JSON value (object, array, string, number, true/false, null), read with Jackson's
 * streaming parser: the few accessors Keylime's answers need, without jackson-databind (whose
 * ObjectMapper loads some 300 classes and keeps caches in every plugin process).
 *
 * <p>Reading refuses repeated keys in an object ({@code STRICT_DUPLICATE_DETECTION}) and anything
 * after the value; the parser's own limits apply (StreamReadConstraints: nesting depth 1000, number
 * length 1000, string length 20,000,000). Numbers keep Jackson's tree types: an integer is a
 * {@code long} or, beyond, a {@link BigInteger}; a number with a fraction or exponent ({@code 200.0},
 * {@code 2e2}) is a {@code double}, never integral.
 *
 * <p>{@link #path} of an absent key gives the missing value ({@link #isMissing}), for which every
 * {@code is...} test but that one is false, as with Jackson's MissingNode.
 */
public final class Json {

  /**
   * Values (and object or array ends) one document may hold as a tree. Keylime's single answers hold
   * tens to hundreds; the bulk status, which may be much larger, is read as a stream, record by record.
   */
  static final int MAX_VALUES = 50_000;

  /** Parsers and generators for Keylime's JSON: duplicate keys refused. */
  static final JsonFactory FACTORY =
      JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  private enum Kind { OBJECT, ARRAY, STRING, NUMBER, TRUE, FALSE, NULL, MISSING }

  static final Json NULL = new Json(Kind.NULL, null);
  static final Json TRUE = new Json(Kind.TRUE, null);
  static final Json FALSE = new Json(Kind.FALSE, null);
  /** What {@link #path} gives for an absent key, and {@link #parse} for an empty document. */
  public static final Json MISSING = new Json(Kind.MISSING, null);

  private final Kind kind;
  /** Map (object), List (array), String, or Long/BigInteger/Double (number). */
  private final Object value;

  private Json(Kind kind, Object value) {
    this.kind = kind;
    this.value = value;
  }

  /** A JSON document; {@link #MISSING} if it holds no value (empty or white space only). */
  public static Json parse(byte[] json) throws IOException {
    try (JsonParser p = FACTORY.createParser(json)) {
      return document(p);
    }
  }

  /** As {@link #parse(byte[])}, from text. */
  public static Json parse(String json) throws IOException {
    try (JsonParser p = FACTORY.createParser(json)) {
      return document(p);
    }
  }

  private static Json document(JsonParser p) throws IOException {
    JsonToken t = p.nextToken();
    if (t == null) {
      return MISSING;
    }
    Json v = read(p, t);
    JsonToken after = p.nextToken();
    if (after != null) {
      throw new JsonParseException(p, "Trailing token (" + after + ") after the JSON value");
    }
    return v;
  }

  /**
   * The value that starts at the parser's current token {@code t} (consumed up to its last token).
   * A loop over a stack of open containers, not recursion: the plugins run with 256 KiB thread
   * stacks, and the parser allows 1000 levels.
   */
  static Json read(JsonParser p, JsonToken t) throws IOException {
    if (t != JsonToken.START_OBJECT && t != JsonToken.START_ARRAY) {
      return scalar(p, t);
    }
    ArrayDeque<Open> outer = new ArrayDeque<>();
    Open top = new Open(t, null);
    int values = 1;
    while (true) {
      JsonToken n = p.nextToken();
      if (++values > MAX_VALUES) {
        // a few MB of "[],[],..." would take a hundred MB of heap as a tree: the plugins have 64 MB
        throw new JsonParseException(p, "more than " + MAX_VALUES + " JSON values in one answer (Keylime's "
            + "hold a few dozen)");
      }
      String name = null;
      if (n == (top.members != null ? JsonToken.END_OBJECT : JsonToken.END_ARRAY)) {
        Json done = top.close();
        if (outer.isEmpty()) {
          return done;
        }
        String key = top.key;
        top = outer.pop();
        top.add(key, done);
        continue;
      }
      if (top.members != null) {
        if (n != JsonToken.FIELD_NAME) {
          throw new JsonParseException(p, "Unexpected token (" + n + ") in an object");
        }
        name = p.currentName();
        n = p.nextToken();
      }
      if (n == JsonToken.START_OBJECT || n == JsonToken.START_ARRAY) {
        outer.push(top);
        top = new Open(n, name);
      } else {
        top.add(name, scalar(p, n));
      }
    }
  }

  /** An object or array being read, and the key it goes under in its object (null in an array). */
  private static final class Open {
    final Map<String, Json> members;
    final List<Json> elements;
    final String key;

    Open(JsonToken start, String key) {
      this.members = start == JsonToken.START_OBJECT ? new LinkedHashMap<>() : null;
      this.elements = members == null ? new ArrayList<>() : null;
      this.key = key;
    }

    void add(String name, Json v) {
      if (members != null) {
        members.put(name, v);
      } else {
        elements.add(v);
      }
    }

    Json close() {
      return members != null ? new Json(Kind.OBJECT, Collections.unmodifiableMap(members))
          : new Json(Kind.ARRAY, Collections.unmodifiableList(elements));
    }
  }

  /** The scalar at the parser's current token {@code t}. */
  static Json scalar(JsonParser p, JsonToken t) throws IOException {
    if (t == null) {
      throw new JsonParseException(p, "Unexpected end of input");
    }
    return switch (t) {
      case VALUE_STRING -> new Json(Kind.STRING, p.getText());
      case VALUE_NUMBER_INT -> switch (p.getNumberType()) {
        case INT, LONG -> new Json(Kind.NUMBER, p.getLongValue());
        default -> new Json(Kind.NUMBER, p.getBigIntegerValue());
      };
      case VALUE_NUMBER_FLOAT -> new Json(Kind.NUMBER, p.getDoubleValue());
      case VALUE_TRUE -> TRUE;
      case VALUE_FALSE -> FALSE;
      case VALUE_NULL -> NULL;
      default -> throw new JsonParseException(p, "Unexpected token (" + t + ")");
    };
  }

  /** An object of these members (copied, order kept). */
  public static Json object(Map<String, Json> members) {
    Map<String, Json> m = new LinkedHashMap<>();
    members.forEach((k, v) -> m.put(Objects.requireNonNull(k), Objects.requireNonNull(v)));
    return new Json(Kind.OBJECT, Collections.unmodifiableMap(m));
  }

  /**
   * An object over {@code members} as they are, not copied: for a reader that reuses one map per
   * record and keeps nothing of the view once the record is read.
   */
  static Json objectView(Map<String, Json> members) {
    return new Json(Kind.OBJECT, Collections.unmodifiableMap(members));
  }

  public static Json string(String s) {
    return new Json(Kind.STRING, Objects.requireNonNull(s));
  }

  public static Json number(long n) {
    return new Json(Kind.NUMBER, n);
  }

  public static Json number(double n) {
    return new Json(Kind.NUMBER, n);
  }

  public boolean isObject() {
    return kind == Kind.OBJECT;
  }

  public boolean isArray() {
    return kind == Kind.ARRAY;
  }

  /** A JSON string. */
  public boolean isTextual() {
    return kind == Kind.STRING;
  }

  public boolean isNumber() {
    return kind == Kind.NUMBER;
  }

  /** A number without fraction or exponent in its text ({@code 200}, not {@code 200.0}). */
  public boolean isIntegralNumber() {
    return kind == Kind.NUMBER && !(value instanceof Double);
  }

  /** An integral number within {@code long}'s range. */
  public boolean canConvertToLong() {
    return kind == Kind.NUMBER && value instanceof Long;
  }

  public boolean isBoolean() {
    return kind == Kind.TRUE || kind == Kind.FALSE;
  }

  /** JSON {@code null} (not the missing value). */
  public boolean isNull() {
    return kind == Kind.NULL;
  }

  public boolean isMissing() {
    return kind == Kind.MISSING;
  }

  /** A string, number, boolean or null (not an object, array or the missing value). */
  public boolean isValueNode() {
    return kind != Kind.OBJECT && kind != Kind.ARRAY && kind != Kind.MISSING;
  }

  /** The member {@code name} of an object; null if absent or this is no object. */
  public Json get(String name) {
    return kind == Kind.OBJECT ? members().get(name) : null;
  }

  /** As {@link #get}, but {@link #MISSING} instead of null. */
  public Json path(String name) {
    Json v = get(name);
    return v == null ? MISSING : v;
  }

  /** An object's members in document order; empty for anything else. */
  @SuppressWarnings("unchecked")
  public Map<String, Json> members() {
    return kind == Kind.OBJECT ? (Map<String, Json>) value : Map.of();
  }

  /** An array's elements; empty for anything else. */
  @SuppressWarnings("unchecked")
  public List<Json> elements() {
    return kind == Kind.ARRAY ? (List<Json>) value : List.of();
  }

  /** Elements of an array or members of an object; 0 for anything else. */
  public int size() {
    return kind == Kind.ARRAY ? elements().size() : members().size();
  }

  public boolean isEmpty() {
    return size() == 0;
  }

  /** A string's value; null for anything else. */
  public String textValue() {
    return kind == Kind.STRING ? (String) value : null;
  }

  public boolean booleanValue() {
    return kind == Kind.TRUE;
  }

  /**
   * A value as text, as Jackson's {@code asText()}: a string's value, a number's JSON form
   * ({@code 2}, {@code 2.5}), {@code true}/{@code false}, {@code null}; "" for an object, array or
   * the missing value.
   */
  public String asText() {
    return switch (kind) {
      case STRING -> (String) value;
      case NUMBER -> value.toString();
      case TRUE -> "true";
      case FALSE -> "false";
      case NULL -> "null";
      default -> "";
    };
  }

  /** {@link #asText()}, but {@code dflt} for null and the missing value. */
  public String asText(String dflt) {
    return kind == Kind.NULL || kind == Kind.MISSING ? dflt : asText();
  }

  /** A number's value as a {@code long} (a fraction truncated); 0 for anything else. */
  public long asLong() {
    return kind == Kind.NUMBER ? ((Number) value).longValue() : 0;
  }

  /** A number's value as a {@code double}; 0 for anything else. */
  public double asDouble() {
    return kind == Kind.NUMBER ? ((Number) value).doubleValue() : 0;
  }

  /** Compact JSON text (the missing value: ""). */
  @Override
  public String toString() {
    if (kind == Kind.MISSING) {
      return "";
    }
    StringWriter w = new StringWriter();
    try (JsonGenerator g = FACTORY.createGenerator(w)) {
      write(g);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a StringWriter does not fail
    }
    return w.toString();
  }

  /** Writes this value (not the missing value) with {@code g}. */
  public void write(JsonGenerator g) throws IOException {
    switch (kind) {
      case OBJECT -> {
        g.writeStartObject();
        for (var e : members().entrySet()) {
          g.writeFieldName(e.getKey());
          e.getValue().write(g);
        }
        g.writeEndObject();
      }
      case ARRAY -> {
        g.writeStartArray();
        for (Json e : elements()) {
          e.write(g);
        }
        g.writeEndArray();
      }
      case STRING -> g.writeString((String) value);
      case NUMBER -> {
        if (value instanceof Long l) {
          g.writeNumber(l);
        } else if (value instanceof BigInteger b) {
          g.writeNumber(b);
        } else {
          g.writeNumber((Double) value);
        }
      }
      case TRUE -> g.writeBoolean(true);
      case FALSE -> g.writeBoolean(false);
      case NULL -> g.writeNull();
      case MISSING -> throw new IllegalStateException("the missing value has no JSON form");
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Json j && j.kind == kind && Objects.equals(j.value, value);
  }

  @Override
  public int hashCode() {
    return kind.hashCode() * 31 + Objects.hashCode(value);
  }
}
