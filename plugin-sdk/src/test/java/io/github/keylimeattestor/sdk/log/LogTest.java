package io.github.keylimeattestor.sdk.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class LogTest {
  /** go-hclog's layout 2006-01-02T15:04:05.000000Z07:00: exactly six fractional digits. */
  static final Pattern TIMESTAMP = Pattern.compile("\"@timestamp\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z\"");

  @Test
  void lineHasStringLevelMessageAndSixDigitTimestamp() {
    String line = Log.format(Instant.parse("2026-01-02T03:04:05Z"), Level.WARN, "m", "hello \"x\"\n", "k", "v", "n", 3);
    assertThat(line).isEqualTo("{\"@level\":\"warn\",\"@message\":\"hello \\\"x\\\"\\n\",\"@timestamp\":"
        + "\"2026-01-02T03:04:05.000000Z\",\"@module\":\"m\",\"k\":\"v\",\"n\":3}");
    assertThat(Log.format(Instant.now(), Level.INFO, "m", "x")).containsPattern(TIMESTAMP);
  }

  @Test
  void reservedKeysCannotBeOverwrittenOrRetypedByFields() {
    String line = Log.format(Instant.EPOCH, Level.INFO, "m", "x", "@level", 5, "@message", null);
    assertThat(line).startsWith("{\"@level\":\"info\",\"@message\":\"x\"").contains("\"_@level\":5").contains("\"_@message\":null");
  }

  @Test
  void controlCharactersAndOddFieldCountsStayValidJson() {
    String line = Log.format(Instant.EPOCH, Level.ERROR, "m", "a\u0001b", "lonely");
    assertThat(line).contains("a\\u0001b").endsWith("\"EXTRA_VALUE_AT_END\":\"lonely\"}");
  }

  @Test
  void levelNamesAreTheOnesHclogAccepts() {
    assertThat(Level.WARN.wireName()).isEqualTo("warn");
    assertThat(Level.TRACE.wireName()).isEqualTo("trace");
  }
}
