package io.github.keylimeattestor.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Every message quoted in docs/troubleshooting.md ("> `...`") is asserted by the test named on the
 * next "Asserted by:" line: that test method exists, and every literal part of the message (between
 * {@code <placeholders>}) is in that test's source, string concatenations joined.
 */
class TroubleshootingDocTest {
  static final Pattern QUOTE = Pattern.compile("^> `(.+)`$");
  static final Pattern ASSERTED = Pattern.compile("^Asserted by: `([^`]+)` \\(`(\\w+)`");

  record Quote(String message, Path test, String method) {}

  static Path root() {
    return Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  }

  static List<Quote> quotes() throws IOException {
    List<Quote> out = new ArrayList<>();
    List<String> pending = new ArrayList<>();
    for (String line : Files.readAllLines(root().resolve("docs/troubleshooting.md"))) {
      Matcher q = QUOTE.matcher(line);
      Matcher a = ASSERTED.matcher(line);
      if (q.matches()) {
        pending.add(q.group(1));
      } else if (a.find()) {
        for (String m : pending) {
          out.add(new Quote(m, root().resolve(a.group(1)), a.group(2)));
        }
        pending.clear();
      }
    }
    assertThat(pending).as("quoted messages without an 'Asserted by:' line").isEmpty();
    return out;
  }

  /** Java source with adjacent string literals joined ("a " + "b" -> "a b") and \" unescaped. */
  static String normalised(Path javaSource) throws IOException {
    return Files.readString(javaSource).replaceAll("\"\\s*\\+\\s*\"", "").replace("\\\"", "\"").replace("\\\\", "\\");
  }

  @Test
  void everyQuotedMessageIsInTheTestThatAssertsIt() throws IOException {
    List<Quote> quotes = quotes();
    assertThat(quotes).hasSizeGreaterThanOrEqualTo(9);
    for (Quote q : quotes) {
      assertThat(q.test()).as("test file for %s", q.message()).isRegularFile();
      String src = normalised(q.test());
      assertThat(src).as("%s in %s", q.method(), q.test()).containsPattern("void " + q.method() + "\\(");
      for (String part : q.message().split("<[^>]+>")) {
        assertThat(src).as("'%s' (from '%s') in %s", part, q.message(), q.test()).contains(part);
      }
    }
  }

  @Test
  void theJoinerReallyJoins() {
    assertThat("\"a \"\n        + \"b\"".replaceAll("\"\\s*\\+\\s*\"", "")).isEqualTo("\"a b\"");
  }
}
