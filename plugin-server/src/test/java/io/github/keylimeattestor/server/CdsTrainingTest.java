package io.github.keylimeattestor.server;

import static org.assertj.core.api.Assertions.assertThatCode;

import org.junit.jupiter.api.Test;

/**
 * The --train-cds round of the attestation paths runs through offline: if a decoder it feeds starts
 * to refuse its made-up input (other than the evidence check it is meant to fail), the round would
 * stop early and the archive would silently miss the first attestation's classes.
 */
class CdsTrainingTest {
  @Test
  void runsWithoutKeylime() {
    assertThatCode(CdsTraining::run).doesNotThrowAnyException();
  }
}
