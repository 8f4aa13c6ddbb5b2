package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ServerNameMatchTest {
  @Test
  void dnsNamesWildcardsAndCommonNameFallback() throws Exception {
    TestPki.Issued ca = TestPki.ca("CA");
    var exact = TestPki.leaf(ca, "ignored.example.org", TestPki.ec(), "DNS:verifier.keylime.test", "IP:127.0.0.1").cert();
    assertThat(ServerNameMatch.matches(exact, "verifier.keylime.test")).isTrue();
    assertThat(ServerNameMatch.matches(exact, "Verifier.Keylime.Test.")).isTrue();
    assertThat(ServerNameMatch.matches(exact, "registrar.keylime.test")).isFalse();
    assertThat(ServerNameMatch.matches(exact, "ignored.example.org")).as("CN ignored when DNS SANs exist").isFalse();
    assertThat(ServerNameMatch.matches(exact, "127.0.0.1")).isFalse();

    var wild = TestPki.leaf(ca, "w", TestPki.ec(), "DNS:*.keylime.test", "DNS:*.org").cert();
    assertThat(ServerNameMatch.matches(wild, "verifier.keylime.test")).isTrue();
    assertThat(ServerNameMatch.matches(wild, "a.verifier.keylime.test")).as("one label only").isFalse();
    assertThat(ServerNameMatch.matches(wild, "keylime.test")).isFalse();
    assertThat(ServerNameMatch.matches(wild, "example.org")).as("no wildcard over two labels").isFalse();

    var cnOnly = TestPki.leaf(ca, "registrar.keylime.test", TestPki.ec(), "IP:127.0.0.1").cert();
    assertThat(ServerNameMatch.matches(cnOnly, "registrar.keylime.test")).isTrue();
    assertThat(ServerNameMatch.matches(cnOnly, "verifier.keylime.test")).isFalse();
  }
}
