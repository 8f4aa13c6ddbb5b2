package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.security.MessageDigest;
import org.junit.jupiter.api.Test;

/**
 * A TPM in dictionary-attack lockout (here: one failed authorization of another program's
 * password-protected key, with tpm2-tools, after tpm2_dictionarylockout allowed one) refuses every
 * authorization of a DA-protected object, even with its right (empty) password. The App Key and SVID
 * key templates carry noDA, so the plugin's keys still sign; the same key without noDA does not.
 */
class LockoutTest {
  @Test
  void ourKeysSignWhileTheTpmIsInLockout() throws Exception {
    try (Swtpm swtpm = Swtpm.start()) {
      KeylimeTpm k = new KeylimeTpm(swtpm.tpm());
      TpmPublic ours = Templates.signingKey(Alg.ECC, Alg.ECC_NIST_P256);
      assertThat(ours.objectAttributes() & ObjectAttributes.NO_DA).isNotZero();
      KeyBlob svidKey = k.createSigningKey(ours);
      KeyBlob appKey = k.createAppKey(Templates.appKeyEccP256());
      KeyBlob daProtected = k.createSigningKey(TpmPublic.ecc(Alg.SHA256,
          Templates.APP_KEY_ATTRIBUTES & ~ObjectAttributes.NO_DA, new byte[0], TpmPublic.SymDef.NULL, Scheme.NULL,
          Alg.ECC_NIST_P256, Scheme.NULL, new byte[0], new byte[0]));
      byte[] digest = MessageDigest.getInstance("SHA-256").digest("lockout".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      Scheme ecdsa = Scheme.of(Alg.ECDSA, Alg.SHA256);
      k.sign(daProtected, digest, ecdsa); // fine before the lockout

      swtpm.tpm2("tpm2_dictionarylockout", "--setup-parameters", "--max-tries=1", "--recovery-time=600",
          "--lockout-recovery-time=600");
      swtpm.tpm2("tpm2_createprimary", "-Q", "-C", "o", "-G", "ecc", "-p", "right", "-c", "guarded.ctx");
      java.nio.file.Files.write(swtpm.dir().resolve("digest.bin"), digest);
      Swtpm.Result wrong = swtpm.tpm2Try("tpm2_sign", "-c", "guarded.ctx", "-p", "wrong", "-g", "sha256", "-d",
          "-o", "sig.bin", "digest.bin");
      assertThat(wrong.exitCode()).as("a wrong password: %s", wrong.output()).isNotZero();
      swtpm.tpm2("tpm2_flushcontext", "-t");
      assertThat(swtpm.tpm2("tpm2_getcap", "properties-variable")).containsPattern("inLockout:\\s+1");

      assertThatThrownBy(() -> k.sign(daProtected, digest, ecdsa)).isInstanceOfSatisfying(TpmResponseException.class,
          e -> assertThat(e.responseCode().base()).isEqualTo(0x921));
      assertThat(k.sign(svidKey, digest, ecdsa)).isNotNull();
      assertThat(k.sign(appKey, digest, ecdsa)).isNotNull();
    }
  }

}
