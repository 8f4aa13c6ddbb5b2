package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The --train-cds round of the attestation paths runs through without a TPM: if a parser or encoder
 * it feeds starts to refuse its made-up input, the round would stop early and the archive would miss
 * the first attestation's classes without anyone noticing.
 */
class CdsTrainingTest {
  @Test
  void runsWithoutATpmAndLeavesNothingBehind() throws Exception {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    long before;
    try (var s = Files.list(tmp)) {
      before = s.filter(p -> p.getFileName().toString().startsWith("keylime-attestor-train")).count();
    }
    assertThatCode(CdsTraining::run).doesNotThrowAnyException();
    try (var s = Files.list(tmp)) {
      assertThat(s.filter(p -> p.getFileName().toString().startsWith("keylime-attestor-train")).count())
          .isLessThanOrEqualTo(before);
    }
  }

  @Test
  void itsAgentDataIsReadByTheAttestationParser() throws Exception {
    TpmPublic ak = Templates.akRsa(Alg.SHA256);
    AgentData d = AgentData.parse(CdsTraining.agentDataJson(ak), AgentData.DEFAULT_LIMIT);
    assertThat(d.akBlob().publicArea()).isEqualTo(ak);
    assertThat(d.akHashAlgId()).isEqualTo(Alg.SHA256);
  }
}
