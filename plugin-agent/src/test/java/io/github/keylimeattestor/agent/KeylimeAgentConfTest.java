package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

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

  /** rust-keylime reads uuid with Rust's Uuid::parse_str and registers the lower-case hyphenated form. */
  @Test
  void aUuidInAnotherFormRustAcceptsIsTheFormKeylimeRegisters() throws Exception {
    String registered = "6f3c9a2e-1b4d-4c8e-9a7f-2d5e8b1c0a93";
    for (String form : new String[] {registered, "6F3C9A2E-1B4D-4C8E-9A7F-2D5E8B1C0A93", "6f3c9a2e1b4d4c8e9a7f2d5e8b1c0a93",
        "{6f3c9a2e-1b4d-4c8e-9a7f-2d5e8b1c0a93}", "urn:uuid:6f3c9a2e-1b4d-4c8e-9a7f-2d5e8b1c0a93",
        "urn:uuid:6F3C9A2E-1B4D-4C8E-9A7F-2D5E8B1C0A93"}) {
      assertThat(value(conf("[agent]\nuuid = \"" + form + "\"\n"))).as(form).contains(registered);
    }
    // not UUIDs to Rust either: left as they are, for the plugin to refuse
    for (String other : new String[] {"{6f3c9a2e-1b4d-4c8e-9a7f-2d5e8b1c0a93", "6f3c9a2e-1b4d-4c8e-9a7f-2d5e8b1c0a93}",
        "urn:uuid:{6f3c9a2e-1b4d-4c8e-9a7f-2d5e8b1c0a93}", "URN:UUID:6f3c9a2e-1b4d-4c8e-9a7f-2d5e8b1c0a93",
        "{6f3c9a2e1b4d4c8e9a7f2d5e8b1c0a93}", "6f3c9a2e1b4d4c8e9a7f2d5e8b1c0a9", "hash_ek", "generate"}) {
      assertThat(value(conf("[agent]\nuuid = \"" + other + "\"\n"))).as(other).contains(other);
    }
  }

  @Test
  void aUuidThatIsNoStringOrAFileThatIsNoTomlIsRefusedNamingTheFile() throws Exception {
    Path notString = conf("[agent]\nuuid = 42\n");
    assertThatThrownBy(() -> KeylimeAgentConf.uuid(notString)).isInstanceOf(IOException.class)
        .hasMessageContaining(notString.toString()).hasMessageContaining("not a quoted string");
    Path broken = conf("[agent\nuuid = \"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\"\n");
    assertThatThrownBy(() -> KeylimeAgentConf.uuid(broken)).isInstanceOf(IOException.class)
        .hasMessageContaining(broken.toString()).hasMessageContaining("not valid TOML");
    Path fifo = dir.resolve("fifo.conf");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    assertThat(java.util.concurrent.CompletableFuture.supplyAsync(() -> catchThrowable(() -> KeylimeAgentConf.uuid(fifo)))
        .get(30, java.util.concurrent.TimeUnit.SECONDS)).isInstanceOf(IOException.class)
        .hasMessageContaining(fifo + " is not a regular file");
    Path huge = conf("# " + "x".repeat(1 << 20) + "\n");
    assertThatThrownBy(() -> KeylimeAgentConf.uuid(huge)).isInstanceOf(IOException.class)
        .hasMessageContaining("larger than 1 MiB");
  }

  /**
   * Named by a default location, rust-keylime's own order: /usr/etc/keylime/agent.conf, its .d/ (glob
   * order: bytes of the name), /etc/keylime/agent.conf, its .d/; each optional, the last uuid winning.
   */
  @Test
  void aDefaultLocationReadsAllOfThemInRustKeylimesOrder() throws Exception {
    Path sys = Files.createDirectories(dir.resolve("usr/etc/keylime")).resolve("agent.conf");
    Path etc = Files.createDirectories(dir.resolve("etc/keylime")).resolve("agent.conf");
    Path sysD = Files.createDirectory(dir.resolve("usr/etc/keylime/agent.conf.d"));
    Path etcD = Files.createDirectory(dir.resolve("etc/keylime/agent.conf.d"));
    assertThatThrownBy(() -> KeylimeAgentConf.uuid(etc, sys, etc)).isInstanceOf(IOException.class)
        .hasMessageContaining("none of");

    Files.writeString(sys, "[agent]\nuuid = \"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\"\n");
    assertThat(KeylimeAgentConf.uuid(etc, sys, etc)).contains(new KeylimeAgentConf.Uuid(
        "d432fbb3-d2f1-4a97-9ef7-75bd81c00000", sys)); // /etc/keylime/agent.conf need not exist
    Path sysDropIn = Files.writeString(sysD.resolve("50.conf"), "[agent]\nuuid = \"50000000-0000-4000-8000-000000000000\"\n");
    assertThat(KeylimeAgentConf.uuid(sys, sys, etc)).contains(new KeylimeAgentConf.Uuid(
        "50000000-0000-4000-8000-000000000000", sysDropIn));
    Files.writeString(etc, "[agent]\nuuid = \"e0000000-0000-4000-8000-000000000000\"\nport = 9002\n");
    assertThat(KeylimeAgentConf.uuid(etc, sys, etc)).contains(new KeylimeAgentConf.Uuid(
        "e0000000-0000-4000-8000-000000000000", etc));

    Files.writeString(etcD.resolve("10-a.conf"), "[agent]\nuuid = \"10a00000-0000-4000-8000-000000000000\"\n");
    Files.writeString(etcD.resolve("Z-upper.conf"), "[agent]\nuuid = \"2a000000-0000-4000-8000-000000000000\"\n");
    Path last = Files.writeString(etcD.resolve("a-lower.conf"), "[agent]\nuuid = \"3a000000-0000-4000-8000-000000000000\"\n");
    Files.writeString(etcD.resolve("b-port.conf"), "[agent]\nport = 9003\n");
    Files.createDirectory(etcD.resolve("c-directory"));
    // "Z" (0x5a) before "a" (0x61), as rust-keylime's glob sorts; a case-blind order would pick Z-upper.conf.
    // Named as /usr/etc/keylime/agent.conf too: the Keylime agent reads the same files.
    for (Path named : new Path[] {etc, sys}) {
      assertThat(KeylimeAgentConf.uuid(named, sys, etc)).contains(new KeylimeAgentConf.Uuid(
          "3a000000-0000-4000-8000-000000000000", last));
    }

    Path broken = Files.writeString(etcD.resolve("d-broken.conf"), "[agent\n");
    assertThatThrownBy(() -> KeylimeAgentConf.uuid(etc, sys, etc)).isInstanceOf(IOException.class)
        .hasMessageContaining(broken.toString()).hasMessageContaining("not valid TOML");
  }

  /** Any other path is what the Keylime agent reads as KEYLIME_AGENT_CONFIG: that file and no drop-in. */
  @Test
  void anotherPathIsThatFileAlone() throws Exception {
    Path f = conf("[agent]\nuuid = \"d432fbb3-d2f1-4a97-9ef7-75bd81c00000\"\n");
    Files.writeString(Files.createDirectory(dir.resolve("agent.conf.d")).resolve("50.conf"),
        "[agent]\nuuid = \"50000000-0000-4000-8000-000000000000\"\n");
    assertThat(KeylimeAgentConf.uuid(f)).contains(new KeylimeAgentConf.Uuid("d432fbb3-d2f1-4a97-9ef7-75bd81c00000", f));
    assertThat(KeylimeAgentConf.sources(f)).isEqualTo(f.toString());
    assertThat(KeylimeAgentConf.sources(Path.of("/etc/keylime/agent.conf"))).isEqualTo(
        "/usr/etc/keylime/agent.conf, /usr/etc/keylime/agent.conf.d/, /etc/keylime/agent.conf and /etc/keylime/agent.conf.d/");
  }
}
