package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code [agent] uuid} from rust-keylime's agent.conf, read as TOML. */
class KeylimeAgentConfTest {
  @TempDir Path dir;

  private Path conf(String text) throws IOException {
    Path f = dir.resolve("agent.conf");
    Files.writeString(f, text);
    return f;
  }

  @Test
  void readsUuidFromTheAgentTableOnly() throws Exception {
    assertThat(KeylimeAgentConf.uuid(conf("""
        # rust-keylime agent.conf
        [agent]
        version = "2.5"
        uuid = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000" # fixed
        ip = "127.0.0.1"
        port = 9002
        enable_agent_mtls = true

        [other]
        uuid = "ffffffff-ffff-ffff-ffff-ffffffffffff"
        """))).contains("d432fbb3-d2f1-4a97-9ef7-75bd81c00000");
    assertThat(KeylimeAgentConf.uuid(conf("[agent]\nuuid = 'hash_ek'\n"))).contains("hash_ek");
    assertThat(KeylimeAgentConf.uuid(conf("[other]\nuuid = \"x\"\n"))).isEmpty();
    assertThat(KeylimeAgentConf.uuid(conf("[agent]\nport = 9002\n"))).isEmpty();
  }

  @Test
  void aUuidThatIsNoStringOrAFileThatIsNoTomlIsRefusedNamingTheFile() throws Exception {
    Path notString = conf("[agent]\nuuid = 42\n");
    assertThatThrownBy(() -> KeylimeAgentConf.uuid(notString)).isInstanceOf(IOException.class)
        .hasMessageContaining(notString.toString()).hasMessageContaining("not a quoted string");
    Path broken = conf("[agent\nuuid = \"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\"\n");
    assertThatThrownBy(() -> KeylimeAgentConf.uuid(broken)).isInstanceOf(IOException.class)
        .hasMessageContaining(broken.toString()).hasMessageContaining("not valid TOML");
    Path huge = conf("# " + "x".repeat(1 << 20) + "\n");
    assertThatThrownBy(() -> KeylimeAgentConf.uuid(huge)).isInstanceOf(IOException.class)
        .hasMessageContaining("larger than 1 MiB");
  }
}
