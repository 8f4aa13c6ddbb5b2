package io.github.keylimeattestor.sdk.hcl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class HclConfigTest {

  @Test
  void typedAccessorsAndDefaults() throws Exception {
    HclConfig c = HclConfig.parse("""
        url = "https://a"
        urls = ["https://a", "https://b"]
        n = 7
        on = true
        timeout = "1m30s"
        tls {
          ca = "/etc/ca.pem"
        }
        """);
    assertThat(c.string("url")).isEqualTo("https://a");
    assertThat(c.stringList("url")).containsExactly("https://a");
    assertThat(c.stringList("urls")).containsExactly("https://a", "https://b");
    assertThat(c.optLong("n", 0)).isEqualTo(7);
    assertThat(c.optBool("on", false)).isTrue();
    assertThat(c.optDuration("timeout", null)).isEqualTo(Duration.ofSeconds(90));
    assertThat(c.block("tls").string("ca")).isEqualTo("/etc/ca.pem");
    assertThat(c.optString("missing", "d")).isEqualTo("d");
    assertThat(c.stringList("missing")).isEqualTo(List.of());
    c.rejectUnknownKeys();
  }

  @Test
  void wrongTypesAndUnknownKeysAreRefusedWithTheKeyName() throws Exception {
    HclConfig c = HclConfig.parse("n = \"seven\"\ntls { ca = 1 }\ntls_servername = \"x\"\n");
    assertThatThrownBy(() -> c.optLong("n", 0)).hasMessage("n must be an integer");
    assertThatThrownBy(() -> c.block("tls").string("ca")).hasMessage("tls.ca must be a string");
    assertThatThrownBy(c::rejectUnknownKeys).hasMessageContaining("tls_servername");
    assertThatThrownBy(() -> HclConfig.parse("").string("url")).hasMessage("url is required");
  }

  @Test
  void integerLists() throws Exception {
    HclConfig c = HclConfig.parse("pcrs = [0, 7, 16]\nbad = [\"0\"]\n");
    assertThat(c.intList("pcrs")).containsExactly(0L, 7L, 16L);
    assertThat(c.intList("none")).isEmpty();
    assertThatThrownBy(() -> c.intList("bad")).hasMessage("bad must be a list of integers");
  }

  @Test
  void goDurations() {
    assertThat(Durations.parse("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(Durations.parse("1h2m3s")).isEqualTo(Duration.ofSeconds(3723));
    assertThat(Durations.parse("1.5s")).isEqualTo(Duration.ofMillis(1500));
    assertThatThrownBy(() -> Durations.parse("10")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Durations.parse("5 s")).isInstanceOf(IllegalArgumentException.class);
  }
}
