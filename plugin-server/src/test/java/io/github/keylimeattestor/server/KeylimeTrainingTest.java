package io.github.keylimeattestor.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The Keylime half of --train-cds: both clients get through mutual TLS and accept the answers (else the
 * archive would miss the classes of the first attestation), and nothing is left in the temporary directory.
 */
class KeylimeTrainingTest {
  @Test
  void bothExchangesAreAcceptedOverMutualTlsAndTheFilesAreRemoved() throws Exception {
    List<Path> before = trainingDirectories();
    assertThat(KeylimeTraining.run()).isEqualTo(2);
    // none left that was not there before (another build's training may remove its own meanwhile)
    assertThat(trainingDirectories()).allMatch(before::contains);
  }

  private static List<Path> trainingDirectories() throws IOException {
    try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return s.filter(p -> p.getFileName().toString().startsWith("keylime-attestor-training")).sorted().toList();
    }
  }
}
