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

  /** HCL v1 reads line breaks between a block's name, its labels and its '{' as spaces. */
  @Test
  void aBlocksBraceMayBeOnTheNextLine() throws Exception {
    assertThat(HclParser.parse("pcr_policy\n{\n  pcrs = [7]\n}\nrevocation \"x\"\n  {\n a = 1\n}\n"))
        .isEqualTo(HclParser.parse("pcr_policy {\n  pcrs = [7]\n}\nrevocation \"x\" {\n a = 1\n}\n"));
    assertThatThrownBy(() -> HclParser.parse("lonely\nother = 1\n")).isInstanceOf(HclException.class);
  }

  /** A plugin_data_file in JSON: SPIRE hands it over as it is, and HCL v1 reads text starting with '{' as JSON. */
  @Test
  void jsonTextMeansWhatItsHclWouldMean() throws Exception {
    Map<String, Object> hcl = HclParser.parse("registrar_urls = [\"https://r:8891\"]\nrequire_ek_cert = true\n"
        + "pcr_policy {\n  bank = \"sha256\"\n  pcrs = [0, 7]\n}\ntimeout = \"30s\"\n");
    Map<String, Object> json = HclParser.parse("  {\"registrar_urls\": [\"https://r:8891\"], \"require_ek_cert\": true,\n"
        + " \"pcr_policy\": {\"bank\": \"sha256\", \"pcrs\": [0, 7]}, \"timeout\": \"30s\"}\n");
    assertThat(json).isEqualTo(hcl);
    assertThatThrownBy(() -> HclParser.parse("{\"timeout\": \"30s\", \"timeout\": \"1s\"}"))
        .isInstanceOf(HclException.class).hasMessageContaining("timeout");
    assertThatThrownBy(() -> HclParser.parse("{\"timeout\": \"30s\"} x")).isInstanceOf(HclException.class);
    // a path with a NUL would reach Path.of and fail as a bug; HCL refuses it, so does JSON
    assertThatThrownBy(() -> HclParser.parse("{\"ek_ca_bundle\": \"/etc/ek\\u0000.pem\"}"))
        .isInstanceOf(HclException.class).hasMessageContaining("a NUL character");
    assertThatThrownBy(() -> HclParser.parse("{\"tls\": {\"ca\\u0000\": \"x\"}}"))
        .isInstanceOf(HclException.class).hasMessageContaining("a NUL character");
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
  void deepNestingAndHugeInputAreRefusedNotOverflowed() throws Exception {
    assertThatThrownBy(() -> HclParser.parse("a = " + "[".repeat(10_000))).isInstanceOf(HclException.class);
    assertThatThrownBy(() -> HclParser.parse("a { ".repeat(10_000))).isInstanceOf(HclException.class);
    // every block label nests one level too (1000 labels overflowed a 256 KiB stack)
    assertThatThrownBy(() -> HclParser.parse("a " + "b ".repeat(1000) + "{}")).isInstanceOf(HclException.class)
        .hasMessageContaining("nesting deeper than");
    assertThatThrownBy(() -> HclParser.parse("#".repeat(HclParser.MAX_LENGTH + 1))).isInstanceOf(HclException.class);
    // JSON plugin_data as deep as HCL's: Jackson's own limit (1000) overflowed a 256 KiB stack now and then
    String deepJson = "{\"a\":".repeat(HclParser.MAX_DEPTH + 1) + "1" + "}".repeat(HclParser.MAX_DEPTH + 1);
    assertThatThrownBy(() -> HclParser.parse(deepJson)).isInstanceOf(HclException.class)
        .hasMessageContaining("nesting depth");
    String deepEnough = "{\"a\":".repeat(HclParser.MAX_DEPTH - 1) + "1" + "}".repeat(HclParser.MAX_DEPTH - 1);
    assertThat(HclParser.parse(deepEnough)).containsKey("a");
  }

  @Test
  void numbersHeredocsAndEscapesReadAsHclReadsThem() throws Exception {
    // Go's ParseInt with base 0, as HCL: a leading 0 is octal
    assertThat(HclParser.parse("a = 010\nb = -017\nc = 0\nd = 0.5\n")).containsEntry("a", 8L).containsEntry("b", -15L)
        .containsEntry("c", 0L).containsEntry("d", 0.5);
    assertThatThrownBy(() -> HclParser.parse("a = 08")).isInstanceOf(HclException.class).hasMessageContaining("bad number");
    // as HCL v1: no unary plus, no number beyond a double, ASCII digits only
    for (String bad : new String[] {"+1", "+1.5", "1e400", "-1e400", "\u0661"}) {
      assertThatThrownBy(() -> HclParser.parse("a = " + bad)).as(bad).isInstanceOf(HclException.class);
    }
    // <<- takes the closing marker's indentation off every line that has it
    assertThat(HclParser.parse("a = <<-EOT\n    one\n      two\n    EOT\n")).containsEntry("a", "one\n  two\n");
    assertThat(HclParser.parse("a = <<-EOT\n  one\nnot indented\n  EOT\n")).containsEntry("a", "  one\nnot indented\n");
    assertThat(HclParser.parse("a = <<EOT\r\nline\r\nEOT\r\n")).containsEntry("a", "line\n");
    // a plain << closes at an indented marker too, and keeps its indentation (HCL v1.0.1-vault-7's
    // hcl.Decode gives "line\n  " and "line\n\t" for these)
    assertThat(HclParser.parse("a = <<EOT\nline\n  EOT\nb = 1\n")).containsEntry("a", "line\n  ").containsEntry("b", 1L);
    assertThat(HclParser.parse("a = <<EOT\nline\n\tEOT\n")).containsEntry("a", "line\n\t");
    assertThat(HclParser.parse("a = <<EOT\nEOTX\n EOT x\nEOT\n")).containsEntry("a", "EOTX\n EOT x\n");
    // Go's other escapes, as HCL v1 (v1.0.1-vault-7's hcl.Decode) reads them: \a \b \f \v, \xHH and
    // \NNN (octal) bytes, which must form UTF-8 ("\xc3\xa9" is one character)
    assertThat(HclParser.parse("a = \"\\a\\b\\f\\v\\x41\\101\\xc3\\xa9z\"")).containsEntry("a", "\u0007\b\f\u000bAA\u00e9z");
    for (String bad : new String[] {"\\x4", "\\xg0", "\\1", "\\08", "\\400", "\\xe9", "\\x00", "\\000"}) {
      assertThatThrownBy(() -> HclParser.parse("a = \"" + bad + "\"")).as(bad).isInstanceOf(HclException.class);
    }
    // \\u takes exactly four hex digits, and no lone surrogate
    for (String bad : new String[] {"\\u+041", "\\u-000", "\\ud800", "\\U00110000"}) {
      assertThatThrownBy(() -> HclParser.parse("a = \"" + bad + "\"")).as(bad).isInstanceOf(HclException.class)
          .hasMessageContaining("bad unicode escape");
    }
    assertThat(HclParser.parse("a = \"\\u0041\\U0001F600\"")).containsEntry("a", "A\uD83D\uDE00");
    // a NUL would reach Path.of (InvalidPathException: INTERNAL, not InvalidArgument)
    assertThatThrownBy(() -> HclParser.parse("a = \"/x\\u0000y\"")).isInstanceOf(HclException.class)
        .hasMessageContaining("NUL");
    assertThatThrownBy(() -> HclParser.parse("a = \"/x\u0000y\"")).isInstanceOf(HclException.class)
        .hasMessageContaining("NUL");
  }

  /**
   * Texts HCL v1 (SPIRE's hcl v1.0.1-vault-7, hcl.Decode) reads otherwise than a plain reading would,
   * so that a setting could hide in what SPIRE's tools show as a string: refused, or read as HCL does.
   */
  @Test
  void textsHclV1ReadsDifferentlyAreRefusedOrReadAsItReadsThem() throws Exception {
    // HCL: one key a = "${\" b = \"}" (quotes inside ${...} do not end the string); refused here
    assertThatThrownBy(() -> HclParser.parse("a = \"${\" b = \"}\"\n")).isInstanceOf(HclException.class)
        .hasMessageContaining("'${'");
    assertThatThrownBy(() -> HclParser.parse("a = \"${x\\ny}\"\n")).isInstanceOf(HclException.class);
    assertThat(HclParser.parse("a = \"$5 {x}\"\n")).containsEntry("a", "$5 {x}");
    // SPIRE's -expandEnv form reads the same either way: kept as it is (the doctor reads such configs)
    assertThat(HclParser.parse("a = \"x-${TD}-\\t\"\n")).containsEntry("a", "x-${TD}-\t");
    assertThatThrownBy(() -> HclParser.parse("a = \"${unclosed\"\n")).isInstanceOf(HclException.class);
    // HCL closes <<-EOT only at a line at least as long as "-EOT": an unindented EOT is text
    assertThat(HclParser.parse("note = <<-EOT\nx\nEOT\nrequire_tpm_bound_svid = false\nnote2 = <<-EOT\n  EOT\n"
        + "agent_path_template = \"/x\"\n")).containsOnlyKeys("note", "agent_path_template")
        .containsEntry("note", "x\nEOT\nrequire_tpm_bound_svid = false\nnote2 = <<-EOT\n");
    assertThat(HclParser.parse("a = <<-EOT\nx\n EOT\n")).containsEntry("a", "x\n");
    // heredoc anchors are letters, digits and '_' (HCL: "invalid characters in heredoc anchor")
    for (String marker : new String[] {"E-OT", "E.OT"}) {
      assertThatThrownBy(() -> HclParser.parse("a = <<" + marker + "\nx\n" + marker + "\n")).as(marker)
          .isInstanceOf(HclException.class).hasMessageContaining("heredoc marker");
    }
    assertThat(HclParser.parse("a = <<E_O9\nx\nE_O9\n")).containsEntry("a", "x\n");
  }

  @Test
  void aDurationLongerThanGoCanHoldIsRefusedNotCapped() {
    assertThat(Durations.parse("2562047h")).isEqualTo(java.time.Duration.ofHours(2562047));
    assertThatThrownBy(() -> Durations.parse("99999999999999999999h")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("longer than a duration can be");
  }

  @Test
  void thousandsOfUnknownKeysMakeABoundedMessage() {
    StringBuilder hcl = new StringBuilder();
    for (int i = 0; i < 2000; i++) { // 14 KB, under the parser's limit
      hcl.append("q").append(i).append("=1\n");
    }
    HclException e = org.assertj.core.api.Assertions.catchThrowableOfType(HclException.class, () -> {
      HclConfig c = HclConfig.parse(hcl.toString());
      c.optString("known", null);
      c.rejectUnknownKeys();
      c.throwIfProblems();
    });
    assertThat(e.getMessage()).startsWith("plugin_data has 2000 problems: ").endsWith("; and 1980 more");
    assertThat(e.getMessage().length()).isLessThan(4000);
    assertThat(e.problems()).hasSize(21).last().isEqualTo("and 1980 more problems");
  }
}
