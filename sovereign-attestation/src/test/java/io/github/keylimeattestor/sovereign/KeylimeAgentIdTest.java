package io.github.keylimeattestor.sovereign;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.HexFormat;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A 64-hex agent ID must be the EK hash of the registrar's EK (issue 9 item 7), computed as
 * Keylime defines it: SHA-256 of the EK public key PEM that OpenSSL writes, here cross-checked with
 * the PEM tpm2_readpublic (OpenSSL) writes for swtpm's EK.
 */
class KeylimeAgentIdTest {
  static Swtpm swtpm;
  static PublicKey ek;
  static String opensslEkHash;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    ek = new KeylimeTpm(swtpm.tpm()).ekPublic().toPublicKey();
    swtpm.tpm2("tpm2_readpublic", "-c", "0x81010001", "-f", "pem", "-o", "ek.pem");
    byte[] pem = Files.readAllBytes(swtpm.dir().resolve("ek.pem"));
    opensslEkHash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(pem));
  }

  @AfterAll
  static void stop() {
    swtpm.close();
  }

  @Test
  void theEkHashOfTheRegistrarsEkPasses() throws Exception {
    KeylimeAgentId id = KeylimeAgentId.parse(opensslEkHash.toUpperCase(Locale.ROOT));
    assertThat(id.isKeylimeHashEk()).isTrue();
    id.checkKeylimeHashEk(ek);
  }

  @Test
  void anotherSixtyFourHexIdIsPermissionDenied() throws Exception {
    char first = opensslEkHash.charAt(0) == '0' ? '1' : '0';
    KeylimeAgentId id = KeylimeAgentId.parse(first + opensslEkHash.substring(1));
    assertThatThrownBy(() -> id.checkKeylimeHashEk(ek)).isInstanceOfSatisfying(EvidenceException.class, e -> {
      assertThat(e.kind()).isEqualTo(EvidenceException.Kind.REJECTED);
      assertThat(e.check()).isEqualTo("agent_uuid_ek_hash");
    });
  }

  @Test
  void aUuidIsNotAnEkHash() throws Exception {
    KeylimeAgentId id = KeylimeAgentId.parse("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10");
    assertThat(id.isKeylimeHashEk()).isFalse();
    id.checkKeylimeHashEk(ek);
  }
}
