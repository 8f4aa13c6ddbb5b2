package io.github.keylimeattestor.sdk.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SpireEnvExpansionTest {
  static final Map<String, String> ENV = Map.of("HOME", "/home/spire", "TD", "example.org", "a_1", "x", "1", "one",
      "EMPTY", "");

  /** Each expected value is what Go 1.26's os.Expand with SPIRE's mapping ($$ is $) printed for the same input and environment. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "plain|plain", "$HOME/x|/home/spire/x", "${HOME}x|/home/spirex", "$$HOME|$HOME", "$$|$", "$|$", "a$|a$",
      "$UNSET!|!", "${}|''", "${|''", "${HOME|HOME", "x${1}y|xoney", "$1abc|oneabc", "$a_1-|x-", "${a b}|''",
      "$-x|x", "$ {HOME}|$ {HOME}", "trust_domain = \"${TD}\"|trust_domain = \"example.org\"", "$é|$é", "${@}|''",
      "${@x}|''", "$EMPTY.|.", "ab$$$TD|ab$example.org", "$}|$}"})
  void expandsAsSpireDoes(String text, String expected) {
    assertThat(SpireEnvExpansion.expand(text, ENV::get)).isEqualTo(expected);
  }
}
