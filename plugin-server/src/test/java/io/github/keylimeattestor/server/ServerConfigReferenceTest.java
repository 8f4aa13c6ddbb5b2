package io.github.keylimeattestor.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.sdk.doctor.PluginDataFile;
import io.github.keylimeattestor.sdk.hcl.HclParser;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docs/reference.md's server plugin_data table is true: each documented key is accepted, the
 * default written in its row is the plugin's real default, and every key of
 * examples/spire-conf/server.conf has a row.
 */
class ServerConfigReferenceTest {
  static final Pattern ROW = Pattern.compile("^\\| `([a-z_.]+)` \\| (.+?) \\| .*\\|$");
  static Map<String, String> rows = new LinkedHashMap<>();
  static TestPki pki;

  static Path root() {
    return Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  }

  @BeforeAll
  static void readTable() throws Exception {
    pki = TestPki.create();
    boolean inServerSection = false;
    for (String line : Files.readAllLines(root().resolve("docs/reference.md"))) {
      if (line.startsWith("## ")) {
        inServerSection = line.startsWith("## Server plugin `plugin_data`");
      }
      Matcher m = ROW.matcher(line);
      if (inServerSection && m.matches()) {
        rows.put(m.group(1), m.group(2).trim());
      }
    }
    assertThat(rows).containsKeys("registrar_urls", "verifier_urls", "tls.ca_bundle", "challenge_timeout");
  }

  /**
   * The minimal valid plugin_data plus {@code key = value} (a dotted key goes inside its block; with
   * a null value, the block is there but empty: a block such as revocation turns a feature on).
   */
  static String config(String key, String value) {
    Map<String, String> tls = new LinkedHashMap<>(Map.of("ca_bundle", q(pki.cert), "client_cert", q(pki.cert),
        "client_key", q(pki.key)));
    StringBuilder sb = new StringBuilder("registrar_urls = [\"https://127.0.0.1:8891\"]\n"
        + "verifier_urls = [\"https://127.0.0.1:8881\"]\n");
    String block = key.contains(".") ? key.substring(0, key.indexOf('.')) : null;
    String inner = key.contains(".") ? key.substring(key.indexOf('.') + 1) : null;
    if ("tls".equals(block)) {
      if (value != null) {
        tls.put(inner, value);
      }
    } else if (block != null) {
      sb.append(block).append(" {\n");
      if (value != null) {
        sb.append("  ").append(inner).append(" = ").append(value).append('\n');
      }
      sb.append("}\n");
    } else if (value != null && !key.equals("registrar_urls") && !key.equals("verifier_urls")) {
      sb.append(key).append(" = ").append(value).append('\n');
    }
    sb.append("tls {\n");
    tls.forEach((k, v) -> sb.append("  ").append(k).append(" = ").append(v).append('\n'));
    return sb.append("}\n").toString();
  }

  static String q(Path p) {
    return "\"" + p + "\"";
  }

  /** Every component of the parsed configuration, as comparable text. */
  static List<String> fingerprint(ServerConfig c) throws Exception {
    List<String> out = new ArrayList<>();
    for (RecordComponent rc : ServerConfig.class.getRecordComponents()) {
      Object v = rc.getAccessor().invoke(c);
      if (v instanceof ClientSettings s) {
        v = s.urls() + " " + s.timeout() + " " + (s.tls() == null ? "" : s.tls().serverName());
      } else if (v instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof X509Certificate) {
        v = l.size() + " certificates";
      }
      out.add(rc.getName() + "=" + v);
    }
    return out;
  }

  @Test
  void everyDocumentedDefaultIsTheRealDefault() throws Exception {
    int checked = 0;
    for (Map.Entry<String, String> row : rows.entrySet()) {
      String d = row.getValue();
      if (d.equals("required") || d.equals("none")) {
        continue;
      }
      assertThat(d).as(row.getKey()).startsWith("`").endsWith("`");
      String value = d.substring(1, d.length() - 1);
      List<String> plain = fingerprint(ServerConfig.parse("example.org", config(row.getKey(), null)));
      ServerConfig withDefault = ServerConfig.parse("example.org", config(row.getKey(), value));
      assertThat(fingerprint(withDefault)).as("%s = %s is the default", row.getKey(), value).isEqualTo(plain);
      checked++;
    }
    assertThat(checked).isGreaterThanOrEqualTo(14);
  }

  @Test
  void everyKeyOfTheExampleServerConfIsDocumented() throws Exception {
    PluginDataFile example = PluginDataFile.read(root().resolve("examples/spire-conf/server.conf"), "keylime");
    List<String> keys = new ArrayList<>();
    flatten("", HclParser.parse(example.pluginData()), keys);
    assertThat(keys).hasSizeGreaterThan(10);
    assertThat(rows.keySet()).containsAll(keys);
  }

  private static void flatten(String prefix, Map<String, Object> body, List<String> out) {
    for (Map.Entry<String, Object> e : body.entrySet()) {
      String key = prefix + e.getKey();
      if (e.getValue() instanceof Map<?, ?> m && !rows.containsKey(key)) {
        @SuppressWarnings("unchecked")
        Map<String, Object> inner = (Map<String, Object>) m;
        flatten(key + ".", inner, out);
      } else {
        out.add(key);
      }
    }
  }
}
