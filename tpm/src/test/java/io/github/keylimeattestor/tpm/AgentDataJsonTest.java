package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.structure.AgentData;
import org.junit.jupiter.api.Test;

/** The JSON shapes {@link AgentData} accepts and refuses (FormatTest covers real agent data from swtpm). */
class AgentDataJsonTest {
  private static String json(String akPublic, String extra) {
    return "{\"ak_hash_alg\": \"Sha256\", \"ak_sign_alg\": \"RsaSsa\", \"ak_public\": " + akPublic
        + ", \"ak_private\": [1, 2], \"ek_hash\": [97, 98]" + extra + "}";
  }

  @Test
  void readsTheFieldsAndSkipsOthersWhateverTheyHold() throws Exception {
    AgentData d = AgentData.parse(json("[0, 255, 16]", ", \"later\": {\"x\": [1, {\"y\": null}]}, \"n\": 1.5"), 4096);
    assertThat(d.akHashAlg()).isEqualTo("Sha256");
    assertThat(d.akSignAlg()).isEqualTo("RsaSsa");
    assertThat(d.akPublic().toByteArray()).containsExactly(0, 255, 16);
    assertThat(d.akPrivate().toByteArray()).containsExactly(1, 2);
    assertThat(d.ekHashText()).isEqualTo("ab");
  }

  @Test
  void theLastOfDuplicateFieldsCounts() throws Exception {
    assertThat(AgentData.parse(json("\"text\"", ", \"ak_public\": [7]"), 4096).akPublic().toByteArray()).containsExactly(7);
    assertThatThrownBy(() -> AgentData.parse(json("[7]", ", \"ak_public\": [300]"), 4096))
        .isInstanceOf(TpmFormatException.class).hasMessage("agent data field ak_public holds a non-byte value");
  }

  @Test
  void refusesElementsThatAreNoBytes() {
    for (String bad : new String[] {"[256]", "[-1]", "[1.0]", "[\"1\"]", "[[1]]", "[null]", "[4294967297]", "[true]"}) {
      assertThatThrownBy(() -> AgentData.parse(json(bad, ""), 4096)).as(bad)
          .isInstanceOf(TpmFormatException.class).hasMessage("agent data field ak_public holds a non-byte value");
    }
  }

  @Test
  void refusesWrongTypesMissingFieldsAndNonObjects() {
    assertThatThrownBy(() -> AgentData.parse(json("{\"a\": 1}", ""), 4096))
        .isInstanceOf(TpmFormatException.class).hasMessage("agent data field ak_public is missing or not an array");
    assertThatThrownBy(() -> AgentData.parse(json("[1]", "").replace("\"Sha256\"", "5"), 4096))
        .isInstanceOf(TpmFormatException.class).hasMessage("agent data field ak_hash_alg is missing or not a string");
    assertThatThrownBy(() -> AgentData.parse("{\"ak_hash_alg\": \"Sha256\"}", 4096))
        .isInstanceOf(TpmFormatException.class).hasMessageContaining("is missing");
    for (String notObject : new String[] {"", "[]", "\"x\"", "null"}) {
      assertThatThrownBy(() -> AgentData.parse(notObject, 4096)).as(notObject)
          .isInstanceOf(TpmFormatException.class).hasMessage("agent data is not a JSON object");
    }
    assertThatThrownBy(() -> AgentData.parse(json("[1]", "") + " {}", 4096))
        .isInstanceOf(TpmFormatException.class).hasMessageStartingWith("invalid JSON");
    assertThatThrownBy(() -> AgentData.parse("{\"ak_public\": [1,,2]}", 4096))
        .isInstanceOf(TpmFormatException.class).hasMessageStartingWith("invalid JSON");
  }
}
