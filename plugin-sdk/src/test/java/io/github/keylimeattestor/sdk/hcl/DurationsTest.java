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
}
