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
  void everyProblemIsCollectedWithTheKeyName() throws Exception {
    HclConfig c = HclConfig.parse("n = \"seven\"\ntls { ca = 1 }\ntls_servername = \"x\"\nt = \"soon\"\n");
    assertThat(c.optLong("n", 3)).isEqualTo(3);
    assertThat(c.block("tls").string("ca")).isEmpty();
    assertThat(c.optDuration("t", Duration.ZERO)).isZero();
    assertThat(c.string("url")).isEmpty();
    c.rejectUnknownKeys();
    assertThat(c.problems()).containsExactly("n must be an integer", "tls.ca must be a string",
        "t: 'soon' is not a duration such as \"30s\", \"5m\" or \"1h\"", "url is required",
        "unknown setting tls_servername (known here: n, tls, t, url)");
    assertThatThrownBy(c::throwIfProblems).isInstanceOfSatisfying(HclException.class, e -> {
      assertThat(e.problems()).hasSize(5);
      assertThat(e.getMessage()).startsWith("plugin_data has 5 problems: n must be an integer; tls.ca must be a string");
    });
  }

  @Test
  void aMisspelledKeyGetsTheNearestKnownOne() throws Exception {
    HclConfig c = HclConfig.parse("registar_urls = [\"https://r\"]\nverifier_url = [\"https://v\"]\n"
        + "tls {\n ca_bunlde = \"/x\"\n}\n");
    c.stringList("verifier_urls");
    c.missing("registrar_urls", "[\"https://keylime.example:8891\"]");
    HclConfig tls = c.block("tls");
    tls.optString("ca_bundle", "");
    tls.optString("server_name", "");
    tls.rejectUnknownKeys();
    c.rejectUnknownKeys();
    assertThat(c.problems()).containsExactly(
        "registrar_urls is required (e.g. [\"https://keylime.example:8891\"]); registar_urls is set: is it a misspelling?",
        "unknown setting tls.ca_bunlde: did you mean tls.ca_bundle?",
        "unknown setting registar_urls: did you mean registrar_urls?",
        "unknown setting verifier_url: did you mean verifier_urls?");
  }

  @Test
  void editDistanceSuggestsOnlyPlausibleTypos() {
    assertThat(EditDistance.distance("ca_bunlde", "ca_bundle")).isEqualTo(1);
    assertThat(EditDistance.distance("kitten", "sitting")).isEqualTo(3);
    assertThat(EditDistance.nearest("tls_server_name", java.util.Set.of("tls", "registrar_urls"))).isEmpty();
    assertThat(EditDistance.nearest("Timeout", java.util.Set.of("timeout", "tls"))).contains("timeout");
  }

  @Test
  void filesAreCheckedAndNamedByTheirKey(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path present = java.nio.file.Files.writeString(dir.resolve("ca.pem"), "x");
    HclConfig c = HclConfig.parse("a = \"" + present + "\"\nb = \"" + dir.resolve("missing.pem") + "\"\nd = \""
        + dir + "\"\n");
    assertThat(c.file("a")).isEqualTo(present);
    assertThat(c.file("b")).isNull();
    assertThat(c.optFile("d")).isEmpty();
    assertThat(c.optFile("e")).isEmpty();
    assertThat(c.file("f")).isNull();
    assertThat(c.problems()).containsExactly("b: no such file " + dir.resolve("missing.pem"),
        "d: " + dir + " is not a regular file", "f is required");
  }

  @Test
  void attemptRecordsAStepsProblemsAndGoesOn() throws Exception {
    HclConfig c = HclConfig.parse("");
    String v = c.attempt(() -> {
      throw new HclException(List.of("first", "second"));
    });
    assertThat(v).isNull();
    assertThat(c.attempt(() -> "ok")).isEqualTo("ok");
    assertThat(c.problems()).containsExactly("first", "second");
  }

  @Test
  void integerLists() throws Exception {
    HclConfig c = HclConfig.parse("pcrs = [0, 7, 16]\nbad = [\"0\"]\n");
    assertThat(c.intList("pcrs")).containsExactly(0L, 7L, 16L);
    assertThat(c.intList("none")).isEmpty();
    assertThat(c.intList("bad")).isEmpty();
    assertThat(c.problems()).containsExactly("bad must be a list of integers");
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
