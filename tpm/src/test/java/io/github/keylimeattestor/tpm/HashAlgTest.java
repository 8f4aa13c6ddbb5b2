package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.junit.jupiter.api.Test;

/** The one hash-algorithm table against the JDK, and the names each reader looks up. */
class HashAlgTest {
  @Test
  void digestSizesAreTheJdksAndNamesRoundTrip() throws Exception {
    for (HashAlg h : HashAlg.values()) {
      if (h.javaName() != null) {
        assertThat(MessageDigest.getInstance(h.javaName()).getDigestLength()).as(h.name()).isEqualTo(h.digestSize());
      }
      assertThat(HashAlg.byId(h.id())).contains(h);
      assertThat(HashAlg.byKeylimeName(h.keylimeName())).contains(h);
      assertThat(HashAlg.byAgentDataName(h.agentDataName())).contains(h);
      assertThat(Alg.keylimeHashName(h.id())).isEqualTo(h.keylimeName());
      assertThat(Alg.fromKeylimeHashName(h.keylimeName())).isEqualTo(h.id());
    }
    assertThat(HashAlg.byKeylimeName("Sha256")).isEmpty();
    assertThat(HashAlg.byAgentDataName("sha256")).isEmpty();
    assertThatThrownBy(() -> Alg.javaDigestName(Alg.SM3_256)).isInstanceOf(TpmFormatException.class);
    assertThatThrownBy(() -> Alg.digestSize(Alg.NULL)).isInstanceOf(TpmFormatException.class);
  }

  @Test
  void sha256OfPartsIsTheDigestOfTheirConcatenation() throws Exception {
    byte[] whole = MessageDigest.getInstance("SHA-256").digest("app-key\0nonce".getBytes(StandardCharsets.US_ASCII));
    assertThat(Sha256.digest("app-key".getBytes(StandardCharsets.US_ASCII), new byte[] {0},
        "nonce".getBytes(StandardCharsets.US_ASCII))).isEqualTo(whole);
    assertThat(Sha256.hex()).isEqualTo("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }
}
