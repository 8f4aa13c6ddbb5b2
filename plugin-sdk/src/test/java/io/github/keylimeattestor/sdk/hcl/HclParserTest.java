package io.github.keylimeattestor.sdk.hcl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HclParserTest {

  /** Captured from spire-server v1.15.3's Configure call (integration test SpireLoadsJavaPluginsIT). */
  static String resource(String name) throws IOException {
    try (InputStream in = HclParserTest.class.getResourceAsStream("/spire-plugin-data/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void readsWhatSpireReprintsWithNestedAndLabelledBlocksListsQuotedKeysNumbersAndBools() throws Exception {
    Map<String, Object> m = HclParser.parse(resource("server-nested.hcl"));
    assertThat(m).containsExactly(
        Map.entry("shared_secret", "s3cret-for-tests"),
        Map.entry("challenge_size", 48L),
        Map.entry("allowed_nodes", List.of("node-1", "node-2")),
        Map.entry("log_challenges", true),
        Map.entry("labels", Map.of("rack", "r1", "zone", "z-9")),
        Map.entry("timeouts", Map.of("attest", Map.of("seconds", 5L))));
  }

  @Test
  void emptyAndCommentOnlyTextGiveAnEmptyBody() throws Exception {
    assertThat(HclParser.parse("")).isEmpty();
    assertThat(HclParser.parse(null)).isEmpty();
    assertThat(HclParser.parse("# a\n// b\n/* c\n d */\n")).isEmpty();
  }

  @Test
  void readsStringsEscapesHeredocsFloatsNegativesHexAndObjects() throws Exception {
    Map<String, Object> m = HclParser.parse("""
        a = "tab\\there \\"q\\" \\u00e9 \\\\"
        b = -3
        c = 2.5e3
        d = 0x1F
        e = { x = 1, y = [ "p", "q", ] }
        f = <<EOT
        line one
        line two
        EOT
        g = []
        """);
    assertThat(m.get("a")).isEqualTo("tab\there \"q\" \u00e9 \\");
    assertThat(m.get("b")).isEqualTo(-3L);
    assertThat(m.get("c")).isEqualTo(2500.0);
    assertThat(m.get("d")).isEqualTo(31L);
    assertThat(m.get("e")).isEqualTo(Map.of("x", 1L, "y", List.of("p", "q")));
    assertThat(m.get("f")).isEqualTo("line one\nline two\n");
    assertThat(m.get("g")).isEqualTo(List.of());
  }

  @Test
  void aStringPluginDataArrivesWithItsQuotesAndIsRefused() {
    // plugin_data = "DATA" reaches the plugin as the 6 characters "DATA" (quotes included).
    assertThatThrownBy(() -> HclParser.parse("\"DATA\"")).isInstanceOf(HclException.class);
  }

  @Test
  void repeatedKeysBecomeAListThatScalarReadersRefuse() throws Exception {
    HclConfig c = HclConfig.parse("url = \"a\"\nurl = \"b\"\n");
    assertThat(c.optString("url", null)).isNull();
    assertThat(c.problems()).containsExactly("url is set more than once");
  }

  @ParameterizedTest
  @ValueSource(strings = {"a = ", "a = \"x", "a = [1, 2", "a { b = 1", "}", "a = unquoted", "a = \"x\"\"y\"",
      "a = <<EOT\nno end", "a = \"\\q\"", "/* open", "= 1", "a = 1.2.3"})
  void malformedTextFailsWithLineAndColumn(String text) {
    assertThatThrownBy(() -> HclParser.parse(text)).isInstanceOf(HclException.class).hasMessageContaining("line ");
  }

  @Test
  void deepNestingAndHugeInputAreRefusedNotOverflowed() {
    assertThatThrownBy(() -> HclParser.parse("a = " + "[".repeat(10_000))).isInstanceOf(HclException.class);
    assertThatThrownBy(() -> HclParser.parse("a { ".repeat(10_000))).isInstanceOf(HclException.class);
    assertThatThrownBy(() -> HclParser.parse("#".repeat(HclParser.MAX_LENGTH + 1))).isInstanceOf(HclException.class);
  }
}
