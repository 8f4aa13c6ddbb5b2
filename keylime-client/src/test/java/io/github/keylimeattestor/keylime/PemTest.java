package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemTest {
  @TempDir Path tmp;

  @Test
  void readsEveryKeyForm() throws Exception {
    KeyPair ec = TestPki.ec();
    KeyPair rsa = TestPki.rsa();
    String sec1 = TestPki.traditional(ec);
    assertThat(sec1).contains("BEGIN EC PRIVATE KEY");
    String pkcs1 = TestPki.traditional(rsa);
    assertThat(pkcs1).contains("BEGIN RSA PRIVATE KEY");
    String pkcs8 = TestPki.pkcs8(ec.getPrivate());
    assertThat(pkcs8).contains("BEGIN PRIVATE KEY");
    String enc = TestPki.encryptedPkcs8(rsa.getPrivate(), "s3cret".toCharArray());
    assertThat(enc).contains("BEGIN ENCRYPTED PRIVATE KEY");

    assertSame(ec, Pem.parsePrivateKey(sec1, "sec1", null));
    assertSame(rsa, Pem.parsePrivateKey(pkcs1, "pkcs1", null));
    assertSame(ec, Pem.parsePrivateKey(pkcs8, "pkcs8", null));
    assertSame(rsa, Pem.parsePrivateKey(enc, "enc", "s3cret".toCharArray()));
    assertThatThrownBy(() -> Pem.parsePrivateKey(enc, "enc", null))
        .isInstanceOf(IOException.class).hasMessageContaining("is encrypted").hasMessageContaining("openssl pkey");
    assertThatThrownBy(() -> Pem.parsePrivateKey(enc, "enc", "wrong".toCharArray()))
        .isInstanceOf(IOException.class);
    assertThatThrownBy(() -> Pem.parsePrivateKey("nothing here", "x", null))
        .isInstanceOf(IOException.class).hasMessageContaining("no private key");
  }

  /** Ed25519 and OpenSSL's legacy "Proc-Type: 4,ENCRYPTED" form, both read without BouncyCastle's provider for the key. */
  @Test
  void readsEd25519AndLegacyEncryptedKeys() throws Exception {
    KeyPair ed = java.security.KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    PrivateKey parsed = Pem.parsePrivateKey(TestPki.pkcs8(ed.getPrivate()), "ed25519", null);
    java.security.Signature s = java.security.Signature.getInstance("Ed25519");
    s.initSign(parsed);
    s.update(new byte[] {4, 5});
    byte[] sig = s.sign();
    java.security.Signature v = java.security.Signature.getInstance("Ed25519");
    v.initVerify(ed.getPublic());
    v.update(new byte[] {4, 5});
    assertThat(v.verify(sig)).isTrue();

    KeyPair rsa = TestPki.rsa();
    java.io.StringWriter sw = new java.io.StringWriter();
    try (var w = new org.bouncycastle.openssl.jcajce.JcaPEMWriter(sw)) {
      w.writeObject(rsa, new org.bouncycastle.openssl.jcajce.JcePEMEncryptorBuilder("AES-128-CBC")
          .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider())
          .build("s3cret".toCharArray()));
    }
    String legacy = sw.toString();
    assertThat(legacy).contains("Proc-Type: 4,ENCRYPTED").contains("BEGIN RSA PRIVATE KEY");
    assertSame(rsa, Pem.parsePrivateKey(legacy, "legacy", "s3cret".toCharArray()));
    assertThatThrownBy(() -> Pem.parsePrivateKey(legacy, "legacy", null))
        .isInstanceOf(IOException.class).hasMessageContaining("is encrypted").hasMessageContaining("openssl pkey");
  }

  /** The parsed key is a JDK key (usable by JSSE) and is the private half of {@code kp}. */
  private static void assertSame(KeyPair kp, PrivateKey parsed) throws Exception {
    assertThat(parsed.getAlgorithm()).isEqualTo(kp.getPrivate().getAlgorithm());
    String alg = parsed.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
    java.security.Signature s = java.security.Signature.getInstance(alg);
    s.initSign(parsed);
    s.update(new byte[] {1, 2, 3});
    byte[] sig = s.sign();
    java.security.Signature v = java.security.Signature.getInstance(alg);
    v.initVerify(kp.getPublic());
    v.update(new byte[] {1, 2, 3});
    assertThat(v.verify(sig)).isTrue();
  }

  @Test
  void readsCertificateBundlesAndRefusesEmptyOnes() throws Exception {
    TestPki.Issued a = TestPki.ca("A");
    TestPki.Issued b = TestPki.ca("B");
    Path bundle = TestPki.write(tmp, "bundle.pem", TestPki.pem(a.cert(), b.cert()));
    assertThat(Pem.readCertificates(bundle)).containsExactly(a.cert(), b.cert());
    Path der = tmp.resolve("ca.der");
    java.nio.file.Files.write(der, a.cert().getEncoded());
    assertThat(Pem.readCertificates(der)).containsExactly(a.cert());
    // comments around the blocks may be UTF-8, as bundles that name their CAs in other languages are
    Path commented = TestPki.write(tmp, "commented.pem", "# Autorité de certification racine\n"
        + TestPki.pem(a.cert()) + "# Zertifizierungsstelle Üben\n" + TestPki.pem(b.cert()));
    assertThat(Pem.readCertificates(commented)).containsExactly(a.cert(), b.cert());
    assertThat(Pem.readContents(commented).certificates()).containsExactly(a.cert(), b.cert());
    KeyPair ec = TestPki.ec();
    Path key = TestPki.write(tmp, "key.pem", "# clé du client\n" + TestPki.pkcs8(ec.getPrivate()));
    assertThat(Pem.readPrivateKey(key, null).getEncoded()).isEqualTo(ec.getPrivate().getEncoded());
    Path empty = TestPki.write(tmp, "empty.pem", "");
    assertThatThrownBy(() -> Pem.readCertificates(empty)).isInstanceOf(IOException.class);
    assertThatThrownBy(() -> TlsSettings.builder().build())
        .isInstanceOf(IOException.class).hasMessageContaining("no CA certificate");
  }

  @Test
  void aFileLargerThanAnyBundleIsRefusedWithoutReadingItWhole() throws Exception {
    TestPki.Issued a = TestPki.ca("A");
    Path big = TestPki.write(tmp, "big.pem", TestPki.pem(a.cert()));
    try (var ch = java.nio.channels.FileChannel.open(big, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {'\n'}), Pem.MAX_FILE_BYTES); // sparse: one byte past the limit
    }
    assertThatThrownBy(() -> Pem.readCertificates(big)).isInstanceOf(IOException.class)
        .hasMessageContaining("is larger than 8 MiB");
    assertThatThrownBy(() -> Pem.readContents(big)).isInstanceOf(IOException.class)
        .hasMessageContaining("is larger than 8 MiB");
    Path atTheLimit = TestPki.write(tmp, "limit.pem", TestPki.pem(a.cert()));
    try (var ch = java.nio.channels.FileChannel.open(atTheLimit, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {'\n'}), Pem.MAX_FILE_BYTES - 1);
    }
    assertThat(Pem.readCertificates(atTheLimit)).containsExactly(a.cert());
  }

  @Test
  void aFifoOrADirectoryIsRefusedWithoutWaitingForAWriter() throws Exception {
    Path fifo = tmp.resolve("ca.pem");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    // without the check the open blocks for good: fail after 10 s instead of hanging the build
    org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10), () ->
        assertThatThrownBy(() -> Pem.readCertificates(fifo)).isInstanceOf(IOException.class)
            .hasMessageContaining("is not a regular file"));
    assertThatThrownBy(() -> Pem.readContents(tmp)).isInstanceOf(IOException.class)
        .hasMessageContaining("is not a regular file");
  }

  @Test
  void clientKeyMustMatchItsCertificate() throws Exception {
    TestPki.Issued ca = TestPki.ca("CA");
    TestPki.Issued leaf = TestPki.leaf(ca, "client", TestPki.ec());
    Path caPem = TestPki.write(tmp, "ca.pem", TestPki.pem(ca.cert()));
    Path cert = TestPki.write(tmp, "c.pem", TestPki.pem(leaf.cert()));
    Path otherKey = TestPki.write(tmp, "k.pem", TestPki.pkcs8(TestPki.ec().getPrivate()));
    assertThatThrownBy(() -> TlsSettings.builder().caBundle(caPem).clientCertificate(cert, otherKey, null).build())
        .isInstanceOf(IOException.class).hasMessageContaining("matches no certificate");
  }

  @Test
  void serverNameMustBeADnsName() {
    assertThatThrownBy(() -> TlsSettings.builder().serverName("127.0.0.1"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TlsSettings.builder().serverName("bad name"))
        .isInstanceOf(IllegalArgumentException.class);
    TlsSettings.builder().serverName("verifier.example.org");
  }
}
