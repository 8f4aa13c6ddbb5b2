package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * An ECC public area becomes a Java key only if its point is on its curve: the JDK's KeyFactory takes
 * an off-curve point, and one coordinate longer than the field fails with an unchecked exception.
 */
class EccPublicPointTest {
  static TpmPublic withPoint(TpmPublic p, byte[] x, byte[] y) {
    return TpmPublic.ecc(p.nameAlg(), p.objectAttributes(), p.authPolicy().toByteArray(), p.symmetric(), p.scheme(),
        p.curveId(), p.kdf(), x, y);
  }

  @Test
  void onlyAPointOnTheCurveBecomesAKey() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    ECPublicKey java = (ECPublicKey) g.generateKeyPair().getPublic();
    TpmPublic good = Templates.appKeyEccP256().withKey(java);
    assertThat(good.toPublicKey().getEncoded()).isEqualTo(java.getEncoded());

    byte[] x = good.eccX().toByteArray();
    byte[] y = good.eccY().toByteArray().clone();
    y[y.length - 1] ^= 1;
    assertThatThrownBy(() -> withPoint(good, x, y).toPublicKey()).isInstanceOf(TpmFormatException.class)
        .hasMessageContaining("not on the curve");
    byte[] longX = new byte[66];
    Arrays.fill(longX, (byte) 0xFF);
    assertThatThrownBy(() -> withPoint(good, longX, good.eccY().toByteArray()).toPublicKey())
        .isInstanceOf(TpmFormatException.class);
    // (0, 0) is no point of P-256 (b != 0)
    assertThatThrownBy(() -> withPoint(good, new byte[32], new byte[32]).toPublicKey()).isInstanceOf(TpmFormatException.class);
  }
}
