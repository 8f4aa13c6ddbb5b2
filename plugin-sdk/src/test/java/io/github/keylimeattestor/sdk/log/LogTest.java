package io.github.keylimeattestor.sdk.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
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
  void timestampIsTheUtcDateTimeWithMicroseconds() {
    DateTimeFormatter reference = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX").withZone(ZoneOffset.UTC);
    Random random = new Random(12);
    List<Instant> instants = new ArrayList<>(List.of(Instant.EPOCH, Instant.parse("2000-02-29T23:59:59.999999Z"),
        Instant.parse("2100-03-01T00:00:00Z"), Instant.parse("1969-12-31T23:59:59.000001Z"),
        Instant.parse("9999-12-31T23:59:59.999999Z"), Instant.parse("0001-01-01T00:00:00Z"), Instant.now()));
    for (int i = 0; i < 10_000; i++) {
      instants.add(Instant.ofEpochSecond(random.nextLong(-62_135_596_800L, 253_402_300_800L), random.nextInt(1_000_000_000)));
    }
    for (Instant when : instants) {
      StringBuilder b = new StringBuilder();
      Log.timestamp(b, when);
      assertThat(b.toString()).as("%s", when).isEqualTo(reference.format(when));
    }
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

  /** go-plugin takes stderr in lines of at most 64 KiB: a huge field is cut, the line stays one JSON object. */
  @Test
  void aHugeFieldIsCutAndTheLineStaysShortAndValid() {
    String huge = "x".repeat(200_000);
    String line = Log.format(Instant.EPOCH, Level.ERROR, "m", huge, "error", huge, "at", huge);
    assertThat(line.length()).isLessThan(16 * 1024);
    assertThat(line).contains("... (" + (200_000 - Json.MAX_STRING) + " more characters)").endsWith("}");
  }

  /** A field whose toString() throws is a logging problem, not the caller's: the line is written anyway. */
  @Test
  void aFieldThatCannotBePrintedStillGivesALine() {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    Log.redirect(out);
    try {
      Object evil = new Object() {
        @Override
        public String toString() {
          throw new IllegalStateException("no");
        }
      };
      Log.named("t").error("still logged", "field", evil);
    } finally {
      Log.redirect(System.err);
    }
    String written = out.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(written).contains("\"@message\":\"still logged\"").contains("\"log_error\":\"java.lang.IllegalStateException\"")
        .endsWith("}\n");
    assertThat(written.lines()).hasSize(1);
  }

  @Test
  void levelNamesAreTheOnesHclogAccepts() {
    assertThat(Level.WARN.wireName()).isEqualTo("warn");
    assertThat(Level.TRACE.wireName()).isEqualTo("trace");
  }
}
