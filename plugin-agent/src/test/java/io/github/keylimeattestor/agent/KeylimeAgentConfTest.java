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

  private static java.util.Optional<String> value(Path conf) throws IOException {
    return KeylimeAgentConf.uuid(conf).map(KeylimeAgentConf.Uuid::value);
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
        """)).map(KeylimeAgentConf.Uuid::value)).contains("d432fbb3-d2f1-4a97-9ef7-75bd81c00000");
    assertThat(value(conf("[agent]\nuuid = 'hash_ek'\n"))).contains("hash_ek");
    assertThat(value(conf("[other]\nuuid = \"x\"\n"))).isEmpty();
    assertThat(value(conf("[agent]\nport = 9002\n"))).isEmpty();
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

  /** rust-keylime reads agent.conf, then agent.conf.d/* (glob order: bytes of the name), the last uuid winning. */
  @Test
  void dropInsBesideTheFileOverrideItsUuidInByteOrderOfTheirNames() throws Exception {
    Path f = conf("[agent]\nuuid = \"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\"\nport = 9002\n");
    assertThat(KeylimeAgentConf.uuid(f)).contains(new KeylimeAgentConf.Uuid("d432fbb3-d2f1-4a97-9ef7-75bd81c00000", f));
    Path d = Files.createDirectory(dir.resolve("agent.conf.d"));
    Files.writeString(d.resolve("10-a.conf"), "[agent]\nuuid = \"10a00000-0000-4000-8000-000000000000\"\n");
    Files.writeString(d.resolve("20-b.conf"), "[agent]\nuuid = \"20b00000-0000-4000-8000-000000000000\"\n");
    Files.writeString(d.resolve("Z-upper.conf"), "[agent]\nuuid = \"2a000000-0000-4000-8000-000000000000\"\n");
    Path last = Files.writeString(d.resolve("a-lower.conf"), "[agent]\nuuid = \"3a000000-0000-4000-8000-000000000000\"\n");
    Files.writeString(d.resolve("b-port.conf"), "[agent]\nport = 9003\n");
    Files.createDirectory(d.resolve("c-directory"));
    // "Z" (0x5a) before "a" (0x61), as rust-keylime's glob sorts; a case-blind order would pick Z-upper.conf
    assertThat(KeylimeAgentConf.uuid(f)).contains(new KeylimeAgentConf.Uuid("3a000000-0000-4000-8000-000000000000", last));

    Files.writeString(f, "[agent]\nport = 9002\n");
    assertThat(KeylimeAgentConf.uuid(f)).contains(new KeylimeAgentConf.Uuid("3a000000-0000-4000-8000-000000000000", last));

    Path broken = Files.writeString(d.resolve("d-broken.conf"), "[agent\n");
    assertThatThrownBy(() -> KeylimeAgentConf.uuid(f)).isInstanceOf(IOException.class)
        .hasMessageContaining(broken.toString()).hasMessageContaining("not valid TOML");
  }
}
