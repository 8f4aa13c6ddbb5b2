package io.github.keylimeattestor.sovereign;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The EK certificate swtpm_setup wrote into NV, checked against its real issuer and a stranger. */
class EkCertificateTest {
  static Swtpm swtpm;
  static X509Certificate ekCert;
  static PublicKey ek;
  static X509Certificate issuer;

  @BeforeAll
  static void read() throws Exception {
    swtpm = Swtpm.start();
    KeylimeTpm tpm = new KeylimeTpm(swtpm.tpm());
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    ekCert = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(tpm.readEkCertificate()));
    ek = tpm.ekPublic().toPublicKey();
    try (InputStream in = Files.newInputStream(swtpm.dir().resolve("localca/issuercert.pem"))) {
      issuer = (X509Certificate) cf.generateCertificate(in);
    }
  }

  @AfterAll
  static void stop() {
    swtpm.close();
  }

  @Test
  void chainsToItsIssuerAndNamesTheTpm() throws Exception {
    EkCertificate.TpmInfo info = EkCertificate.verify(ekCert, List.of(), ek, List.of(issuer));
    assertThat(info.manufacturer()).contains("id:00001014");
    assertThat(info.model()).contains("swtpm");
    assertThat(info.version()).hasValueSatisfying(v -> assertThat(v).startsWith("id:"));
  }

  @Test
  void aCertificateFromAnotherCaIsRefused() throws Exception {
    Path dir = Files.createTempDirectory("ekca");
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=swtpm-localca", "-keyout", dir.resolve("k.pem").toString(), "-out", dir.resolve("c.pem").toString())
        .redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    assertThat(p.waitFor()).isZero();
    X509Certificate stranger;
    try (InputStream in = Files.newInputStream(dir.resolve("c.pem"))) {
      stranger = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
    assertThatThrownBy(() -> EkCertificate.verify(ekCert, List.of(), ek, List.of(stranger)))
        .isInstanceOfSatisfying(EvidenceException.class, e -> assertThat(e.check()).isEqualTo("ek_certificate"))
        .hasMessageContaining("does not chain");
  }

  @Test
  void aCertificateForAnotherKeyIsRefused() throws Exception {
    PublicKey other = Templates.akRsa(Alg.SHA256).withKey(
        java.security.KeyPairGenerator.getInstance("RSA").generateKeyPair().getPublic()).toPublicKey();
    assertThatThrownBy(() -> EkCertificate.verify(ekCert, List.of(), other, List.of(issuer)))
        .isInstanceOfSatisfying(EvidenceException.class, e -> assertThat(e.check()).isEqualTo("ek_certificate"))
        .hasMessageContaining("does not hold the registrar's EK");
  }
}
