package io.github.keylimeattestor.server.revocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RevocationConfigTest {
  static Optional<RevocationConfig> parse(String hcl) throws HclException {
    HclConfig c = HclConfig.parse(hcl);
    Optional<RevocationConfig> r = RevocationConfig.parse(c);
    c.rejectUnknownKeys();
    c.throwIfProblems();
    return r;
  }

  @Test
  void noBlockNoWatch() throws Exception {
    assertThat(parse("")).isEmpty();
  }

  @Test
  void anEmptyBlockTurnsTheWatchOnWithItsDefaults() throws Exception {
    RevocationConfig r = parse("revocation {}").orElseThrow();
    assertThat(r.action()).isEqualTo(RevocationConfig.Action.EVICT);
    assertThat(r.interval()).isEqualTo(Duration.ofSeconds(2));
    assertThat(r.spireServerSocket()).isEqualTo(Path.of("/tmp/spire-server/private/api.sock"));
    assertThat(r.actOnDeleted()).isTrue();
    assertThat(r.bulk()).isTrue();
    assertThat(r.discoveryInterval()).isEqualTo(Duration.ofMinutes(1));
  }

  @Test
  void everyKey() throws Exception {
    RevocationConfig r = parse("""
        revocation {
          action = "ban"
          interval = "5s"
          spire_server_socket = "/run/spire/server.sock"
          deleted_from_verifier = "ignore"
          bulk = false
          discovery_interval = "0s"
        }
        """).orElseThrow();
    assertThat(r).isEqualTo(new RevocationConfig(RevocationConfig.Action.BAN, Duration.ofSeconds(5),
        Path.of("/run/spire/server.sock"), false, false, Duration.ZERO));
  }

  @Test
  void mistakesAreNamed() {
    assertThatThrownBy(() -> parse("revocation {\n action = \"delete\"\n}")).isInstanceOf(HclException.class)
        .hasMessageContaining("revocation.action").hasMessageContaining("evict");
    assertThatThrownBy(() -> parse("revocation {\n interval = \"100ms\"\n}")).hasMessageContaining("500ms");
    assertThatThrownBy(() -> parse("revocation {\n spire_server_socket = \"api.sock\"\n}"))
        .hasMessageContaining("absolute path");
    assertThatThrownBy(() -> parse("revocation {\n deleted_from_verifier = \"evict\"\n}"))
        .hasMessageContaining("deleted_from_verifier");
    assertThatThrownBy(() -> parse("revocation {\n discovery_interval = \"1s\"\n}"))
        .hasMessageContaining("at least revocation.interval");
    assertThatThrownBy(() -> parse("revocation {\n intervall = \"2s\"\n}")).hasMessageContaining("intervall")
        .hasMessageContaining("did you mean revocation.interval");
    // every problem at once
    assertThatThrownBy(() -> parse("revocation {\n action = \"x\"\n interval = \"1ms\"\n}"))
        .hasMessageContaining("revocation.action").hasMessageContaining("revocation.interval");
  }
}
