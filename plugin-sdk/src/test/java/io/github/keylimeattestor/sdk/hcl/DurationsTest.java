package io.github.keylimeattestor.sdk.hcl;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DurationsTest {
  /** What messages print is what the configuration takes: each form reads back to the same duration. */
  @ParameterizedTest
  @CsvSource({"PT0S, 0s", "PT0.1S, 100ms", "PT0.0000015S, 1500ns", "PT0.000002S, 2us", "PT2S, 2s", "PT1.5S, 1.5s",
      "PT1M30S, 1m30s", "PT10M, 10m", "PT1H, 1h", "PT1H0.25S, 1h0.25s", "PT26H3M, 26h3m", "PT-2S, -2s"})
  void formatsAsGoWritesDurationsAndParsesBack(String iso, String go) {
    Duration d = Duration.parse(iso);
    assertThat(Durations.format(d)).isEqualTo(go);
    if (!d.isNegative()) {
      assertThat(Durations.parse(go)).isEqualTo(d);
    }
  }

  /** The forms Go's time.ParseDuration takes that an operator may copy from elsewhere. */
  @ParameterizedTest
  @CsvSource({".5s, PT0.5S", "1.s, PT1S", "+1s, PT1S", "+0, PT0S", "1\u00b5s, PT0.000001S", "1\u03bcs, PT0.000001S",
      "1h0.5m, PT1H30S"})
  void readsGosOtherForms(String go, String iso) {
    assertThat(Durations.parse(go)).isEqualTo(Duration.parse(iso));
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"-1s", "-0", "1", "s", ".s", "1.5", "1d", "1s ", ""})
  void refusesWhatIsNoDurationOfOurs(String s) {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Durations.parse(s)).isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * A long run of digits without a unit: a search from every position made this cubic (16,000 digits
   * took hours, holding Configure); one pass now. Timed only as "does not hang" by the test's timeout.
   */
  @org.junit.jupiter.api.Test
  @org.junit.jupiter.api.Timeout(10)
  void aLongValueThatIsNoDurationIsRefusedInOnePass() {
    String digits = "1".repeat(16_000) + "x";
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Durations.parse(digits))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(Durations.parse("1".repeat(3) + "h" + "2".repeat(2) + "m")).isEqualTo(Duration.ofMinutes(111 * 60 + 22));
  }
}
