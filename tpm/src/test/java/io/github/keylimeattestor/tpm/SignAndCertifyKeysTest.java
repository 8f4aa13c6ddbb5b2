package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.command.AttestResponse;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.github.keylimeattestor.tpm.testing.SlotWatchTransport;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** TPM2_Sign by unrestricted keys and TPM2_Certify of several keys at once, on swtpm, checked by the JDK and tpm2-tools. */
class SignAndCertifyKeysTest {
  static Swtpm swtpm;
  static Tpm tpm;
  static KeylimeTpm k;
  static KeyBlob ak;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    tpm = swtpm.tpm();
    k = new KeylimeTpm(tpm);
    ak = new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256));
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  @AfterEach
  void nothingLeftLoaded() throws Exception {
    assertThat(k.transientHandles()).isEmpty();
  }

  private static byte[] sha(String alg, byte[] data) throws Exception {
    return MessageDigest.getInstance(alg).digest(data);
  }

  @Test
  void ecdsaP256AndP384SignaturesVerifyWithTheJdk() throws Exception {
    byte[] data = "the CSR to sign".getBytes(StandardCharsets.US_ASCII);
    for (int[] c : new int[][] {{Alg.ECC_NIST_P256, Alg.SHA256}, {Alg.ECC_NIST_P384, Alg.SHA384}}) {
      KeyBlob key = k.createSigningKey(Templates.signingKey(Alg.ECC, c[0]));
      assertThat(key.publicArea().objectAttributes()).isEqualTo(Templates.APP_KEY_ATTRIBUTES);
      String hash = Alg.javaDigestName(c[1]);
      TpmSignature sig = k.sign(key, sha(hash, data), Scheme.of(Alg.ECDSA, c[1]));
      assertThat(sig.sigAlg()).isEqualTo(Alg.ECDSA);
      sig.verify(key.publicArea().toPublicKey(), new SigningScheme(Alg.ECDSA, c[1]), data);
    }
  }

  @Test
  void rsaPkcs1AndPssSignaturesVerifyWithTheJdk() throws Exception {
    byte[] data = "another CSR".getBytes(StandardCharsets.US_ASCII);
    KeyBlob key = k.createSigningKey(Templates.signingKey(Alg.RSA, 2048));
    PublicKey pub = key.publicArea().toPublicKey();
    TpmSignature pkcs1 = k.sign(key, sha("SHA-256", data), Scheme.of(Alg.RSASSA, Alg.SHA256));
    Signature v = Signature.getInstance("SHA256withRSA");
    v.initVerify(pub);
    v.update(data);
    assertThat(v.verify(pkcs1.rsaSignature().toByteArray())).isTrue();
    TpmSignature pss = k.sign(key, sha("SHA-256", data), Scheme.of(Alg.RSAPSS, Alg.SHA256));
    pss.verify(pub, new SigningScheme(Alg.RSAPSS, Alg.SHA256), data);
  }

  @Test
  void aDigestOfTheWrongSizeIsRefusedByTheTpm() throws Exception {
    KeyBlob key = k.createSigningKey(Templates.signingKey(Alg.ECC, Alg.ECC_NIST_P256));
    assertThatThrownBy(() -> k.sign(key, new byte[20], Scheme.of(Alg.ECDSA, Alg.SHA256)))
        .isInstanceOf(TpmResponseException.class);
  }

  @Test
  void anAkCannotBeMadeToSignAnExternalDigest() throws Exception {
    // a restricted key refuses the NULL ticket: TPM2_Sign cannot forge a TPMS_ATTEST with the AK
    KeyBlob restricted = k.createSigningKey(Templates.akEccP256(Alg.SHA256));
    assertThatThrownBy(() -> k.sign(restricted, new byte[32], Scheme.of(Alg.ECDSA, Alg.SHA256)))
        .isInstanceOf(TpmResponseException.class);
  }

  @Test
  void threeKeysAreCertifiedBesideTheQuoteWithAtMostTwoObjectsLoaded() throws Exception {
    List<KeylimeTpm.ToCertify> keys = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      keys.add(new KeylimeTpm.ToCertify(k.createSigningKey(Templates.signingKey(Alg.ECC, Alg.ECC_NIST_P256)),
          sha("SHA-256", new byte[] {(byte) i})));
    }
    SlotWatchTransport watch = new SlotWatchTransport(new SwtpmTransport("127.0.0.1", swtpm.port), true);
    KeylimeTpm watched = new KeylimeTpm(new Tpm(watch));
    byte[] nonce = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    KeylimeTpm.MultiEvidence ev = watched.quoteAndCertifyAll(ak, nonce, PcrSelection.of(Alg.SHA256, 16), keys);
    assertThat(watch.maxInUse()).isLessThanOrEqualTo(2);
    TpmVerifier v = TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT);
    v.verifyQuote(ev.quote(), nonce);
    assertThat(ev.certifications()).hasSize(3);
    for (int i = 0; i < 3; i++) {
      AttestResponse c = ev.certifications().get(i);
      v.verifyCertify(c.attest(), c.signature(), keys.get(i).key().publicArea(), keys.get(i).qualifyingData());
      int other = (i + 1) % 3;
      int at = i;
      assertThatThrownBy(() -> v.verifyCertify(c.attest(), c.signature(), keys.get(other).key().publicArea(),
          keys.get(at).qualifyingData())).isInstanceOf(TpmVerificationException.class);
    }
  }

  @Test
  void tpm2ToolsVerifiesOurTpm2SignSignature() throws Exception {
    KeyBlob key = k.createSigningKey(Templates.signingKey(Alg.ECC, Alg.ECC_NIST_P256));
    Path dir = swtpm.dir();
    byte[] data = "checked by tpm2_verifysignature".getBytes(StandardCharsets.US_ASCII);
    TpmSignature sig = k.sign(key, sha("SHA-256", data), Scheme.of(Alg.ECDSA, Alg.SHA256));
    Files.write(dir.resolve("sk.pub"), key.publicArea().marshalTpm2b());
    Files.write(dir.resolve("msg.bin"), data);
    Files.write(dir.resolve("sig.bin"), sig.marshal());
    swtpm.tpm2("tpm2_loadexternal", "-C", "o", "-u", dir.resolve("sk.pub").toString(), "-c", dir.resolve("sk.ctx").toString());
    swtpm.tpm2("tpm2_verifysignature", "-c", dir.resolve("sk.ctx").toString(), "-g", "sha256", "-m",
        dir.resolve("msg.bin").toString(), "-s", dir.resolve("sig.bin").toString());
    swtpm.tpm2("tpm2_flushcontext", "-t");
  }
}
