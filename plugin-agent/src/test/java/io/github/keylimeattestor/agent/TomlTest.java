package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Our TOML 1.0 reader: the forms of the spec's examples, and what it refuses. */
class TomlTest {

  @SuppressWarnings("unchecked")
  private static Map<String, Object> table(Object o) {
    return (Map<String, Object>) o;
  }

  private static void refused(String doc, String why) {
    assertThatThrownBy(() -> Toml.parse(doc)).as(doc).isInstanceOf(Toml.SyntaxException.class)
        .hasMessageContaining(why);
  }

  @Test
  void readsEveryKindOfValue() throws Exception {
    Map<String, Object> d = Toml.parse("""
        # comment
        title = "TOML \\"x\\" \\u00e9\\U0001F600\\t" # trailing comment
        lit = 'C:\\Users\\nodejs'
        ml = \"\"\"
        Roses \\
           are red
        two""\"\"\"
        mll = '''
        first
        'x' '''
        ints = [ +99, 42, 0, -17, 1_000, 0xDEAD_beef, 0o755, 0b1101 ]
        floats = [ 1.0, -3.1415, 5e+22, 6.626e-34, 224_617.445_991, inf, -inf, nan ]
        bools = [true, false,]
        dates = [1979-05-27T07:32:00Z, 2024-02-29T23:59:60Z, 1979-05-27 07:32:00.999-07:00, 1979-05-27, 07:32:00]
        nested = [ [ 1, 2 ], ["a", 'b'], [ { x = 1 } ] ]
        multi = [
          1, # one
          2,
        ]
        "quoted key" = 1
        '' = 'empty key'
        point = { x = 1, y.z = 2 }
        """);
    assertThat(d.get("title")).isEqualTo("TOML \"x\" é\uD83D\uDE00\t");
    assertThat(d.get("lit")).isEqualTo("C:\\Users\\nodejs");
    assertThat(d.get("ml")).isEqualTo("Roses are red\ntwo\"\"");
    assertThat(d.get("mll")).isEqualTo("first\n'x' ");
    assertThat(d.get("ints")).isEqualTo(List.of(99L, 42L, 0L, -17L, 1000L, 0xDEADBEEFL, 0755L, 13L));
    List<?> floats = (List<?>) d.get("floats");
    assertThat(floats.subList(0, 7)).isEqualTo(List.of(1.0, -3.1415, 5e22, 6.626e-34, 224617.445991,
        Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY));
    assertThat((Double) floats.get(7)).isNaN();
    assertThat(d.get("bools")).isEqualTo(List.of(true, false));
    assertThat(d.get("dates")).isEqualTo(List.of(new Toml.DateTime("1979-05-27T07:32:00Z"),
        new Toml.DateTime("2024-02-29T23:59:60Z"),
        new Toml.DateTime("1979-05-27 07:32:00.999-07:00"), new Toml.DateTime("1979-05-27"),
        new Toml.DateTime("07:32:00")));
    assertThat(d.get("multi")).isEqualTo(List.of(1L, 2L));
    assertThat(d.get("quoted key")).isEqualTo(1L);
    assertThat(d.get("")).isEqualTo("empty key");
    assertThat(table(table(d.get("point")).get("y")).get("z")).isEqualTo(2L);
    assertThat(((List<?>) d.get("nested")).get(2)).isEqualTo(List.of(Map.of("x", 1L)));
  }

  @Test
  void tablesDottedKeysAndArraysOfTables() throws Exception {
    Map<String, Object> d = Toml.parse("""
        top = 1
        agent.uuid = "a"
        [fruit]
        apple.color = "red"
        apple.taste.sweet = true
        [fruit.apple.texture]
        smooth = true
        [ dog . "tater.man" ]
        type = "pug"
        [[products]]
        name = "Hammer"
        [[products]]
        [products.dims]
        w = 2
        [a.b.c]
        [a]
        d = 1
        """.replace("\n", "\r\n"));
    assertThat(table(d.get("agent")).get("uuid")).isEqualTo("a");
    Map<String, Object> apple = table(table(d.get("fruit")).get("apple"));
    assertThat(apple.get("color")).isEqualTo("red");
    assertThat(table(apple.get("taste")).get("sweet")).isEqualTo(true);
    assertThat(table(apple.get("texture")).get("smooth")).isEqualTo(true);
    assertThat(table(table(d.get("dog")).get("tater.man")).get("type")).isEqualTo("pug");
    List<?> products = (List<?>) d.get("products");
    assertThat(products).hasSize(2);
    assertThat(table(products.get(0)).get("name")).isEqualTo("Hammer");
    assertThat(table(table(products.get(1)).get("dims")).get("w")).isEqualTo(2L);
    assertThat(table(d.get("a")).get("d")).isEqualTo(1L);
  }

  @Test
  void redefinitionsAreRefused() {
    refused("a = 1\na = 2\n", "defined twice");
    refused("[agent]\nuuid = 'x'\nuuid = 'y'\n", "defined twice");
    refused("[a]\n[a]\n", "defined twice");
    refused("[a.b]\nc = 1\n[a]\nb = 2\n", "defined twice");
    refused("[fruit]\napple.color = 'red'\n[fruit.apple]\n", "defined twice");
    refused("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", "cannot take more keys");
    refused("p = { x = 1 }\n[p]\n", "defined twice");
    refused("p = { x = 1 }\np.y = 2\n", "cannot take more keys");
    refused("p = { x.y = 1 }\n[p.x]\n", "cannot take more keys");
    refused("a = [1]\n[[a]]\n", "not an array of tables");
    refused("[a]\n[[a]]\n", "not an array of tables");
    refused("[[a]]\n[a]\n", "defined twice");
  }

  @Test
  void syntaxErrorsAreRefusedNamingTheLine() {
    refused("[agent\nuuid = 'x'\n", "line 1: ']' is expected");
    refused("ok = 1\nuuid = d432fbb3\n", "line 2:");
    refused("uuid = \"open\n", "not closed");
    refused("uuid = 'open", "not closed");
    refused("s = '''never", "not closed");
    refused("s = \"\\q\"", "no TOML escape");
    refused("s = \"\\uD800\"", "no Unicode scalar value");
    refused("s = \"a\u0001\"", "control character");
    refused("a = 1 b = 2\n", "one key = value");
    refused("a =\n", "a value is expected");
    refused("a = 01\n", "no TOML value");
    refused("a = 1__0\n", "no TOML value");
    refused("a = 9223372036854775808\n", "64 bits");
    refused("a = [1 2]\n", "',' or ']'");
    refused("a = { x = 1, }\n", "a key is expected");
    refused("a = { x = 1\n}\n", "',' or '}'");
    refused("é = 1\n", "a key is expected");
    refused("d = 2023-02-29\n", "no such date");
    refused("d = 1985-06-18 17:04:07+25:00\n", "no such time offset");
    refused("d = 00:00:61\n", "no such time");
    refused("a = 1\r", "unexpected");
    assertThatThrownBy(() -> Toml.parse(new byte[] {'a', '=', '"', (byte) 0xC3, '"'}))
        .isInstanceOf(Toml.SyntaxException.class).hasMessageContaining("UTF-8");
  }

  @Test
  void nestingIsBounded() throws Exception {
    int ok = Toml.MAX_DEPTH;
    assertThat(Toml.parse("a = " + "[".repeat(ok) + "]".repeat(ok))).containsKey("a");
    // the deepest allowed, on a thread with the launcher's -Xss256k
    AtomicReference<Throwable> failed = new AtomicReference<>();
    Thread small = new Thread(null, () -> {
      try {
        Toml.parse("a = " + "[{b = ".repeat(ok / 2) + "1" + "}]".repeat(ok / 2));
      } catch (Throwable e) {
        failed.set(e);
      }
    }, "small-stack", 256 * 1024);
    small.start();
    small.join();
    assertThat(failed.get()).isNull();
    refused("a = " + "[".repeat(ok + 1) + "]".repeat(ok + 1), "nested deeper than 100");
    refused("a = " + "{b = ".repeat(ok + 1) + "1" + "}".repeat(ok + 1), "nested deeper than 100");
    refused("a = " + "[".repeat(500_000), "nested deeper than 100");
    String longKey = "k.".repeat(100_000) + "k";
    assertThat(Toml.parse("t = { " + longKey + " = 1 }\n" + longKey + " = 2\n")).containsKeys("t", "k");
  }

  @Test
  void anEmptyDocumentAndABomAreFine() throws Exception {
    assertThat(Toml.parse("")).isEmpty();
    assertThat(Toml.parse("\n# only a comment\n\n")).isEmpty();
    assertThat(Toml.parse("\uFEFFa = 1".getBytes(StandardCharsets.UTF_8))).containsEntry("a", 1L);
  }
}
