package io.github.keylimeattestor.sdk.hcl;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Configuration written as JSON, which HCL v1 (SPIRE's parser) reads whenever the text starts with
 * '{': a SPIRE configuration file (the doctor), or a plugin_data_file SPIRE hands over as it is. Read
 * into the shapes {@link HclParser} gives (insertion-ordered maps, lists, String, Long, Double,
 * Boolean), so either syntax means the same. A key twice in one object is refused (HCL's JSON
 * reader would keep the last: refusing is the safe side).
 */
public final class JsonConfig {
  /**
   * Nesting as deep as the HCL parser allows: {@link #value} recurses, and the plugins' threads have
   * 256 KiB stacks, on which Jackson's own limit (1000) could overflow the stack instead of failing.
   */
  private static final JsonFactory FACTORY =
      JsonFactory.builder().enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .streamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder()
              .maxNestingDepth(HclParser.MAX_DEPTH).build())
          .build();

  private JsonConfig() {}

  @SuppressWarnings("unchecked")
  /** {@code what} names the text in messages (a file, "plugin_data"). */
  public static Map<String, Object> parse(String text, Object file) throws HclException {
    try (JsonParser p = FACTORY.createParser(text)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new HclException(file + ": a JSON configuration must be an object");
      }
      Map<String, Object> body = (Map<String, Object>) value(p);
      if (p.nextToken() != null) {
        throw new HclException(file + ": text after the JSON object");
      }
      return body;
    } catch (JsonProcessingException e) {
      throw new HclException(file + " is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new HclException(file + " is unreadable as JSON: " + e.getMessage());
    }
  }

  /** As the HCL parser: no setting (a path least of all) can hold a NUL. */
  private static String noNul(String s, JsonParser p) throws HclException {
    if (s.indexOf('\0') >= 0) {
      throw new HclException("a NUL character (\\u0000) in a string at line " + p.currentLocation().getLineNr()
          + ": no setting can hold one");
    }
    return s;
  }

  private static Object value(JsonParser p) throws IOException, HclException {
    switch (p.currentToken()) {
      case START_OBJECT -> {
        Map<String, Object> m = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String key = noNul(p.currentName(), p);
          p.nextToken();
          Object v = value(p);
          if (v != null) { // "plugin_data": null is as if absent
            m.put(key, v);
          }
        }
        return m;
      }
      case START_ARRAY -> {
        List<Object> l = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          Object v = value(p);
          if (v != null) {
            l.add(v);
          }
        }
        return l;
      }
      case VALUE_STRING -> {
        return noNul(p.getText(), p);
      }
      case VALUE_NUMBER_INT -> {
        return p.getLongValue();
      }
      case VALUE_NUMBER_FLOAT -> {
        return p.getDoubleValue();
      }
      case VALUE_TRUE, VALUE_FALSE -> {
        return p.getBooleanValue();
      }
      default -> {
        return null; // JSON null
      }
    }
  }
}
