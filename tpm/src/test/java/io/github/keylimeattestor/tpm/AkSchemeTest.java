package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The signature scheme and hash come from the AK's public area (issue 9 item 2), on evidence made by
 * tpm2-tools with genuine AKs on a swtpm that has both a SHA-1 and a SHA-256 PCR bank.
 */
class AkSchemeTest {
  static final byte[] NONCE = "0123456789abcdef0123".getBytes(StandardCharsets.US_ASCII);
  static Swtpm swtpm;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start("sha1,sha256");
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  /** A tpm2-tools AK ({@code tpm2_createak -g hash -s rsassa}) and its quote over {@code pcrs}. */
  private static Quoted toolsQuote(String name, String hash, String pcrs) throws Exception {
    swtpm.tpm2("tpm2_createak", "-C", "0x81010001", "-c", name + ".ctx", "-G", "rsa", "-g", hash,
        "-s", "rsassa", "-u", name + ".pub", "-r", name + ".priv");
    try {
      swtpm.tpm2("tpm2_quote", "-c", name + ".ctx", "-l", pcrs, "-q", HexFormat.of().formatHex(NONCE),
          "-m", name + ".msg", "-s", name + ".sig", "-o", name + ".pcrs", "-g", hash);
    } finally {
      swtpm.tpm2("tpm2_flushcontext", "-t");
    }
    return new Quoted(TpmPublic.parseTpm2b(read(name + ".pub")),
        new KeylimeQuote(Bytes.copyFrom(read(name + ".msg")), Bytes.copyFrom(read(name + ".sig")),
            Bytes.copyFrom(read(name + ".pcrs"))));
  }

  private record Quoted(TpmPublic ak, KeylimeQuote quote) {}

  private static byte[] read(String file) throws Exception {
    return Files.readAllBytes(swtpm.dir().resolve(file));
  }

  /** The same RSA key, but a public area that declares another RSASSA hash. */
  private static TpmPublic declaring(TpmPublic ak, int hashAlg) {
    return TpmPublic.rsa(ak.nameAlg(), ak.objectAttributes(), ak.authPolicy().toByteArray(), ak.symmetric(),
        TpmPublic.Scheme.of(Alg.RSASSA, hashAlg), ak.keyBits(), ak.exponent(), ak.rsaModulus().toByteArray());
  }

  @Test
  void aGenuineRsassaSha1AkIsRefusedUnlessSha1IsAllowed() throws Exception {
    Quoted q = toolsQuote("sha1ak", "sha1", "sha256:16");
    assertThat(SigningScheme.of(q.ak())).isEqualTo(new SigningScheme(Alg.RSASSA, Alg.SHA1));
    assertThatThrownBy(() -> TpmVerifier.forAk(q.ak(), AlgorithmPolicy.STRICT))
        .isInstanceOf(TpmVerificationException.class).hasMessageContaining("SHA-1").hasMessageContaining("allow_sha1");
    TpmVerifier.VerifiedQuote v = TpmVerifier.forAk(q.ak(), AlgorithmPolicy.ALLOW_SHA1).verifyQuote(q.quote(), NONCE);
    assertThat(v.signature().hashAlg()).isEqualTo(Alg.SHA1);
  }

  @Test
  void aSha1PcrBankIsRefusedUnlessSha1IsAllowed() throws Exception {
    Quoted q = toolsQuote("bank1", "sha256", "sha1:16+sha256:16");
    assertThatThrownBy(() -> TpmVerifier.forAk(q.ak(), AlgorithmPolicy.STRICT).verifyQuote(q.quote(), NONCE))
        .isInstanceOf(TpmVerificationException.class).hasMessageContaining("PCR bank").hasMessageContaining("SHA-1");
    TpmVerifier.VerifiedQuote v = TpmVerifier.forAk(q.ak(), AlgorithmPolicy.ALLOW_SHA1).verifyQuote(q.quote(), NONCE);
    assertThat(v.pcrs().value(Alg.SHA1, 16).size()).isEqualTo(20);
  }

  @Test
  void sha256EvidenceIsRefusedForAnAkThatDeclaresSha384() throws Exception {
    Quoted q = toolsQuote("ak256", "sha256", "sha256:16");
    TpmVerifier.forAk(q.ak(), AlgorithmPolicy.STRICT).verifyQuote(q.quote(), NONCE);
    TpmPublic sha384 = declaring(q.ak(), Alg.SHA384);
    assertThat(sha384.toPublicKey().getEncoded()).isEqualTo(q.ak().toPublicKey().getEncoded());
    assertThatThrownBy(() -> TpmVerifier.forAk(sha384, AlgorithmPolicy.STRICT).verifyQuote(q.quote(), NONCE))
        .isInstanceOf(TpmVerificationException.class)
        .hasMessageContaining("declares RSASSA-SHA256 but the attestation key signs with RSASSA-SHA384");
  }

  @Test
  void aSignatureDeclaringAWeakerHashThanTheAksIsRefusedEvenWithSha1Allowed() throws Exception {
    Quoted q = toolsQuote("weak", "sha1", "sha256:16");
    TpmPublic claimsSha256 = declaring(q.ak(), Alg.SHA256);
    assertThatThrownBy(() -> TpmVerifier.forAk(claimsSha256, AlgorithmPolicy.ALLOW_SHA1).verifyQuote(q.quote(), NONCE))
        .isInstanceOf(TpmVerificationException.class)
        .hasMessageContaining("declares RSASSA-SHA1 but the attestation key signs with RSASSA-SHA256");
  }

  @Test
  void anAkWithoutASchemeIsRefusedAsNoTpmMakesOne() throws Exception {
    TpmPublic template = TpmPublic.rsa(Alg.SHA256, Templates.AK_ATTRIBUTES, new byte[0], TpmPublic.SymDef.NULL,
        TpmPublic.Scheme.NULL, 2048, 0, new byte[0]);
    assertThatThrownBy(() -> new KeylimeAgentTpm(swtpm.tpm()).createAk(template))
        .isInstanceOf(TpmResponseException.class).hasMessageContaining("TPM_RC_SCHEME");
    Quoted q = toolsQuote("nullak", "sha256", "sha256:16");
    TpmPublic nullScheme = TpmPublic.rsa(Alg.SHA256, Templates.AK_ATTRIBUTES, new byte[0], TpmPublic.SymDef.NULL,
        TpmPublic.Scheme.NULL, 2048, 0, q.ak().rsaModulus().toByteArray());
    assertThatThrownBy(() -> TpmVerifier.forAk(nullScheme, AlgorithmPolicy.STRICT))
        .isInstanceOf(TpmFormatException.class).hasMessageContaining("declares no signing scheme");
  }

  @Test
  void aKeyWithASchemeOfTheWrongTypeIsUnusable() {
    TpmPublic rsaWithEcdsa = TpmPublic.rsa(Alg.SHA256, Templates.AK_ATTRIBUTES, new byte[0], TpmPublic.SymDef.NULL,
        TpmPublic.Scheme.of(Alg.ECDSA, Alg.SHA256), 2048, 0, new byte[256]);
    assertThatThrownBy(() -> TpmVerifier.forAk(rsaWithEcdsa, AlgorithmPolicy.STRICT))
        .isInstanceOf(TpmFormatException.class).hasMessageContaining("not RSASSA/RSAPSS");
  }

  /** RSAES's details are TPMS_EMPTY: no hash follows the scheme (a key tpm2-tools made, read back byte for byte). */
  @Test
  void anRsaesKeysPublicAreaHasNoSchemeHash() throws Exception {
    swtpm.tpm2("tpm2_createprimary", "-C", "o", "-G", "rsa2048:rsaes", "-a",
        "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt", "-c", "rsaes.ctx");
    try {
      swtpm.tpm2("tpm2_readpublic", "-c", "rsaes.ctx", "-o", "rsaes.pub");
    } finally {
      swtpm.tpm2("tpm2_flushcontext", "-t");
    }
    byte[] tools = read("rsaes.pub");
    TpmPublic p = TpmPublic.parseTpm2b(tools);
    assertThat(p.scheme().scheme()).isEqualTo(Alg.RSAES);
    assertThat(p.keyBits()).isEqualTo(2048);
    assertThat(p.rsaModulus().size()).isEqualTo(256);
    assertThat(p.marshalTpm2b()).isEqualTo(tools);
  }
}
