package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.command.GetCapability;
import io.github.keylimeattestor.tpm.command.GetRandom;
import io.github.keylimeattestor.tpm.command.NvReadPublic;
import io.github.keylimeattestor.tpm.command.ReadPublic;
import io.github.keylimeattestor.tpm.command.Startup;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.io.ByteArrayInputStream;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** EK creation, persistent EK, NV EK certificate, Names — against a real swtpm. */
class EkAndNvTest {
  static Swtpm swtpm;
  static Tpm tpm;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    tpm = swtpm.tpm();
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  @Test
  void startupReportsAlreadyStarted() throws Exception {
    assertThat(tpm.startup(Startup.CLEAR)).isFalse();
  }

  @Test
  void persistentConnectionAndTctiString() throws Exception {
    try (Tpm kept = new Tpm(new io.github.keylimeattestor.tpm.transport.SwtpmTransport(
        "127.0.0.1", swtpm.port, true, 10_000))) {
      for (int i = 0; i < 3; i++) {
        assertThat(kept.execute(new GetRandom(8))).hasSize(8);
      }
    }
    try (Tpm viaTcti = new Tpm(io.github.keylimeattestor.tpm.transport.SwtpmTransport.fromTcti(swtpm.tcti()))) {
      assertThat(viaTcti.execute(new GetRandom(4))).hasSize(4);
    }
  }

  @Test
  void getRandomAndProperties() throws Exception {
    assertThat(tpm.execute(new GetRandom(16))).hasSize(16);
    GetCapability.Data d = tpm.execute(GetCapability.properties(GetCapability.PT_FIXED, 64));
    assertThat(d.properties()).containsEntry(GetCapability.PT_NV_BUFFER_MAX, 1024)
        .containsEntry(GetCapability.PT_HR_TRANSIENT_MIN, 3);
    assertThat(tpm.execute(GetCapability.pcrs()).pcrs().banks()).isNotEmpty();
  }

  @Test
  void createdEkEqualsPersistentEkAndCertificateKey() throws Exception {
    CreatePrimary.Response created = tpm.execute(
        CreatePrimary.of(Handles.RH_ENDORSEMENT, Templates.ekRsa2048()));
    try {
      ReadPublic.Response persistent = tpm.execute(new ReadPublic(Handles.PERSISTENT_EK_RSA));
      assertThat(created.outPublic()).isEqualTo(persistent.outPublic());
      assertThat(created.outPublic().marshal()).isEqualTo(persistent.outPublic().marshal());
      assertThat(created.name()).isEqualTo(persistent.name());
      // our Name computation equals the TPM's
      assertThat(Bytes.copyFrom(persistent.outPublic().name())).isEqualTo(persistent.name());

      KeylimeTpm k = new KeylimeTpm(tpm);
      byte[] der = new KeylimeAgentTpm(k).readEkCertificate();
      assertThat(der.length).isGreaterThan(0);
      X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(der));
      assertThat(cert.getPublicKey().getEncoded())
          .isEqualTo(created.outPublic().toPublicKey().getEncoded());
      assertThat(cert.getIssuerX500Principal().getName()).contains("swtpm-localca");
      // issued by the test's private local CA
      X509Certificate issuer = (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(java.nio.file.Files.newInputStream(swtpm.issuerCertificate()));
      cert.verify(issuer.getPublicKey());
      // the template with the key plugged in is the public area again
      assertThat(Templates.ekRsa2048().withKey(cert.getPublicKey())).isEqualTo(created.outPublic());
      assertThat(k.ekPublic()).isEqualTo(created.outPublic());
      assertThat(new KeylimeAgentTpm(k).readEkCertificateChain()).isEmpty();
    } finally {
      tpm.execute(new FlushContext(created.handle()));
    }
  }

  @Test
  void eccEkCertificateMatchesPersistentEccEk() throws Exception {
    ReadPublic.Response ecc = tpm.execute(new ReadPublic(Handles.PERSISTENT_EK_ECC_P384));
    assertThat(ecc.outPublic().curveId()).isEqualTo(Alg.ECC_NIST_P384);
    assertThat(Bytes.copyFrom(ecc.outPublic().name())).isEqualTo(ecc.name());
    byte[] der = new KeylimeAgentTpm(tpm).readNv(Handles.NV_EK_CERT_ECC_P384);
    X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(der));
    assertThat(cert.getPublicKey().getEncoded()).isEqualTo(ecc.outPublic().toPublicKey().getEncoded());
    assertThat(TpmPublic.parseTpm2b(ecc.outPublic().marshalTpm2b())).isEqualTo(ecc.outPublic());
  }

  @Test
  void eccL2EkFromTemplate() throws Exception {
    CreatePrimary.Response created = tpm.execute(
        CreatePrimary.of(Handles.RH_ENDORSEMENT, Templates.ekEccP256()));
    try {
      assertThat(created.outPublic().eccX().size()).isEqualTo(32);
      assertThat(Bytes.copyFrom(created.outPublic().name())).isEqualTo(created.name());
      assertThat(tpm.execute(new ReadPublic(created.handle())).name()).isEqualTo(created.name());
    } finally {
      tpm.execute(new FlushContext(created.handle()));
    }
  }

  @Test
  void nvReadIsChunkedForLargeIndex() throws Exception {
    NvReadPublic.Response pub = tpm.execute(new NvReadPublic(Handles.NV_EK_CERT_RSA2048));
    byte[] data = new KeylimeAgentTpm(tpm).readNv(Handles.NV_EK_CERT_RSA2048);
    assertThat(data).hasSize(pub.dataSize());
    // the tpm2-tools reading of the same index agrees byte for byte
    swtpm.tpm2("tpm2_nvread", "-C", "o", "-o", "ekcert.der", "0x1c00002");
    assertThat(data).isEqualTo(java.nio.file.Files.readAllBytes(swtpm.dir().resolve("ekcert.der")));
    // smaller chunks give the same bytes (swtpm's EK cert fits in one NV_BUFFER_MAX read)
    assertThat(new KeylimeAgentTpm(tpm).readNv(Handles.NV_EK_CERT_RSA2048, 100)).isEqualTo(data);
    byte[] platform = new KeylimeAgentTpm(tpm).readNv(0x01C08000, 64);
    assertThat(platform).isEqualTo(new KeylimeAgentTpm(tpm).readNv(0x01C08000));
    assertThat(platform.length).isEqualTo(tpm.execute(new NvReadPublic(0x01C08000)).dataSize());
  }
}
