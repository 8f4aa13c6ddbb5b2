package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import java.math.BigInteger;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Our JSON value type: what the reader accepts and refuses, and how Fields reads its numbers. */
class JsonTest {
  private static final URI URI_ = URI.create("https://verifier.test/v2.3/agents/x");

  private static Fields fields(String json) throws Exception {
    return new Fields(Json.parse(json), URI_, "test record");
  }

  @Test
  void repeatedKeysAreRefusedAtEveryLevel() {
    assertThatThrownBy(() -> Json.parse("{\"a\":1,\"a\":2}")).isInstanceOf(JsonProcessingException.class)
        .hasMessageContaining("Duplicate field 'a'");
    assertThatThrownBy(() -> Json.parse("{\"x\":[{\"b\":true,\"c\":0,\"b\":false}]}"))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("Duplicate field 'b'");
  }

  @Test
  void nestedValuesKeepTheirTypesAndOrder() throws Exception {
    Json j = Json.parse("{\"z\":{\"list\":[1,\"two\",[true,null],{}]},\"a\":null,\"m\":[]}");
    assertThat(j.isObject()).isTrue();
    assertThat(j.members().keySet()).containsExactly("z", "a", "m");
    Json list = j.get("z").get("list");
    assertThat(list.isArray()).isTrue();
    assertThat(list.size()).isEqualTo(4);
    assertThat(list.elements().get(1).textValue()).isEqualTo("two");
    assertThat(list.elements().get(2).elements().get(0).booleanValue()).isTrue();
    assertThat(list.elements().get(2).elements().get(1).isNull()).isTrue();
    assertThat(list.elements().get(3).isObject()).isTrue();
    assertThat(list.elements().get(3).isEmpty()).isTrue();
    assertThat(j.get("a").isNull()).isTrue();
    assertThat(j.get("a").isMissing()).isFalse();
    assertThat(j.get("absent")).isNull();
    assertThat(j.path("absent").isMissing()).isTrue();
    assertThat(j.path("absent").path("deeper").isObject()).isFalse();
    assertThat(j.path("absent").asText("dflt")).isEqualTo("dflt");
    assertThat(j.get("a").asText("dflt")).isEqualTo("dflt");
    assertThat(j.get("m").isArray()).isTrue();
    assertThat(j.get("m").isEmpty()).isTrue();
    assertThat(list.get("x")).as("get on an array").isNull();
    assertThat(j.toString()).isEqualTo("{\"z\":{\"list\":[1,\"two\",[true,null],{}]},\"a\":null,\"m\":[]}");
  }

  @Test
  void numbersKeepJacksonsTreeTypes() throws Exception {
    Json j = Json.parse("{\"int\":200,\"text\":\"200\",\"float\":200.0,\"exp\":2e2,\"neg\":-7,"
        + "\"big\":18446744073709551616,\"long\":9223372036854775807}");
    Json i = j.get("int");
    assertThat(i.isNumber() && i.isIntegralNumber() && i.canConvertToLong()).isTrue();
    assertThat(i.asLong()).isEqualTo(200);
    assertThat(i.asText()).isEqualTo("200");
    Json t = j.get("text");
    assertThat(t.isTextual()).isTrue();
    assertThat(t.isNumber()).isFalse();
    Json f = j.get("float");
    assertThat(f.isNumber()).isTrue();
    assertThat(f.isIntegralNumber()).isFalse();
    assertThat(f.canConvertToLong()).isFalse();
    assertThat(f.asDouble()).isEqualTo(200.0);
    assertThat(f.asText()).isEqualTo("200.0");
    assertThat(j.get("exp").isIntegralNumber()).isFalse();
    assertThat(j.get("exp").toString()).isEqualTo("200.0");
    assertThat(j.get("neg").asLong()).isEqualTo(-7);
    Json big = j.get("big");
    assertThat(big.isIntegralNumber()).isTrue();
    assertThat(big.canConvertToLong()).isFalse();
    assertThat(big.asText()).isEqualTo(BigInteger.TWO.pow(64).toString());
    assertThat(j.get("long").canConvertToLong()).isTrue();
    assertThat(j.get("long").asLong()).isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void fieldsTakeAnIntegerOnlyAsAJsonIntegerAndAPortAlsoAsDigits() throws Exception {
    assertThat(fields("{\"c\":200}").integer("c")).isEqualTo(200);
    assertThatThrownBy(() -> fields("{\"c\":\"200\"}").integer("c"))
        .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("field 'c' is not an integer");
    assertThatThrownBy(() -> fields("{\"c\":200.0}").integer("c"))
        .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("field 'c' is not an integer");
    assertThatThrownBy(() -> fields("{\"c\":18446744073709551616}").integer("c"))
        .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("field 'c' is not an integer");
    assertThatThrownBy(() -> fields("{\"c\":null}").integer("c"))
        .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("field 'c' is missing");
    assertThat(fields("{\"p\":9002}").optPort("p")).contains(9002);
    assertThat(fields("{\"p\":\"9002\"}").optPort("p")).contains(9002);
    assertThatThrownBy(() -> fields("{\"p\":9002.0}").optPort("p"))
        .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("is not a port number");
    assertThatThrownBy(() -> fields("{\"p\":18446744073709551696}").optPort("p"))
        .as("beyond 64 bits is no port, not that number modulo 2^64")
        .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("is not a port number");
    assertThatThrownBy(() -> fields("{\"p\":70000}").optPort("p"))
        .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("out of the port range: 70000");
  }

  @Test
  void epochSecondsAreAnyJsonNumberButNotText() throws Exception {
    assertThat(fields("{\"t\":1700000000.5}").optEpochSeconds("t"))
        .contains(Instant.ofEpochSecond(1700000000L, 500_000_000L));
    assertThat(fields("{\"t\":1700000000}").optEpochSeconds("t")).contains(Instant.ofEpochSecond(1700000000L));
    assertThat(fields("{\"t\":0}").optEpochSeconds("t")).isEmpty();
    assertThatThrownBy(() -> fields("{\"t\":\"1700000000\"}").optEpochSeconds("t"))
        .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("is not a number of seconds");
    assertThatThrownBy(() -> fields("{\"t\":-1.0}").optEpochSeconds("t"))
        .isInstanceOf(KeylimeMalformedResponseException.class).hasMessageContaining("not a plausible Unix time: -1.0");
  }

  @Test
  void unicodeEscapesAndRawUtf8AreDecodedAndWrittenBack() throws Exception {
    byte[] raw = "{\"s\":\"\\u00e9t\\u00E9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\n\",\"r\":\"été\"}"
        .getBytes(StandardCharsets.UTF_8);
    Json j = Json.parse(raw);
    assertThat(j.get("s").textValue()).isEqualTo("été \uD83D\uDE00 \"q\" \\ \n");
    assertThat(j.get("r").textValue()).isEqualTo("été");
    assertThat(Json.parse(j.toString())).isEqualTo(j);
    assertThat(Json.string("a\"b\u0001").toString()).isEqualTo("\"a\\\"b\\u0001\"");
    assertThatThrownBy(() -> Json.parse("{\"s\":\"\\uZZZZ\"}")).isInstanceOf(JsonProcessingException.class);
  }

  @Test
  void anythingAfterTheValueIsRefusedButWhiteSpaceIsNot() throws Exception {
    assertThat(Json.parse("{\"a\":1}\n  \t").get("a").asLong()).isEqualTo(1);
    assertThatThrownBy(() -> Json.parse("{\"a\":1} {\"a\":2}")).isInstanceOf(JsonProcessingException.class)
        .hasMessageContaining("Trailing token");
    assertThatThrownBy(() -> Json.parse("{\"a\":1}]")).isInstanceOf(JsonProcessingException.class);
    assertThatThrownBy(() -> Json.parse("{\"a\":1}x")).isInstanceOf(JsonProcessingException.class);
    assertThatThrownBy(() -> Json.parse("{\"a\":1")).isInstanceOf(JsonProcessingException.class);
    assertThatThrownBy(() -> Json.parse("{a:1}")).isInstanceOf(JsonProcessingException.class);
    assertThat(Json.parse("").isMissing()).as("no value at all").isTrue();
    assertThat(Json.parse(" \n").isObject()).isFalse();
  }

  @Test
  void nestingIsBoundedByTheParsersLimit() throws Exception {
    int ok = 1000;
    assertThat(Json.parse("[".repeat(ok) + "]".repeat(ok)).isArray()).isTrue();
    // on a thread with the launcher's -Xss256k: the reader keeps its open containers on the heap
    AtomicReference<Throwable> failed = new AtomicReference<>();
    Thread small = new Thread(null, () -> {
      try {
        Json j = Json.parse("{\"a\":[".repeat(ok / 2) + "1" + "]}".repeat(ok / 2));
        assertThat(j.get("a").elements().get(0).get("a")).isNotNull();
      } catch (Throwable e) {
        failed.set(e);
      }
    }, "small-stack", 256 * 1024);
    small.start();
    small.join();
    assertThat(failed.get()).isNull();
    String tooDeep = "{\"a\":".repeat(1001) + "1" + "}".repeat(1001);
    assertThatThrownBy(() -> Json.parse(tooDeep)).isInstanceOf(StreamConstraintsException.class)
        .hasMessageContaining("nesting depth");
    String veryDeep = "[".repeat(200_000) + "]".repeat(200_000);
    assertThatThrownBy(() -> Json.parse(veryDeep)).as("refused before the reader's recursion gets deep")
        .isInstanceOf(StreamConstraintsException.class);
  }

  /** A few MB of empty arrays would be a hundred MB of tree in a 64 MB heap: refused by count. */
  @Test
  void aDocumentOfMoreValuesThanAnyKeylimeAnswerIsRefused() throws Exception {
    String many = "{\"results\":{\"x\":[" + "[],".repeat(Json.MAX_VALUES) + "[]]}}";
    assertThatThrownBy(() -> Json.parse(many)).isInstanceOf(com.fasterxml.jackson.core.JsonParseException.class)
        .hasMessageContaining("more than " + Json.MAX_VALUES + " JSON values");
    String enough = "[" + "1,".repeat(Json.MAX_VALUES / 2) + "1]";
    assertThat(Json.parse(enough).size()).isEqualTo(Json.MAX_VALUES / 2 + 1);
  }
}
