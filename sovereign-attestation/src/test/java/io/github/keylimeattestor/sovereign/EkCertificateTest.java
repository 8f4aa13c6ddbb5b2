package io.github.keylimeattestor.sovereign;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERBMPString;
import org.bouncycastle.asn1.DERUTF8String;
import org.bouncycastle.asn1.x500.AttributeTypeAndValue;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * EK certificates (issue 9 item 8): swtpm's real root -> intermediate -> EK chain from
 * swtpm_setup, and certificates made here with BouncyCastle where the real one cannot show a case
 * (escaped characters, other string types, EKU, multi-valued RDNs).
 */
class EkCertificateTest {
  static Swtpm swtpm;
  static X509Certificate ekCert;
  static PublicKey ek;
  static X509Certificate issuer;
  static X509Certificate root;

  static KeyPair rootKey;
  static X509Certificate testRoot;
  static KeyPair intermediateKey;
  static X509Certificate testIntermediate;
  static KeyPair ekKey;

  @BeforeAll
  static void read() throws Exception {
    swtpm = Swtpm.start();
    KeylimeTpm tpm = new KeylimeTpm(swtpm.tpm());
    ekCert = (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(new KeylimeAgentTpm(tpm).readEkCertificate()));
    ek = tpm.ekPublic().toPublicKey();
    issuer = pem(swtpm.dir().resolve("localca/issuercert.pem"));
    root = pem(swtpm.dir().resolve("localca/swtpm-localca-rootca-cert.pem"));

    rootKey = ecKey();
    testRoot = ca(new X500Name("CN=Test TPM Root"), rootKey, new X500Name("CN=Test TPM Root"), rootKey.getPrivate());
    intermediateKey = ecKey();
    testIntermediate = ca(new X500Name("CN=Test TPM Intermediate"), intermediateKey, new X500Name("CN=Test TPM Root"),
        rootKey.getPrivate());
    ekKey = ecKey();
  }

  @AfterAll
  static void stop() {
    swtpm.close();
  }

  static X509Certificate pem(Path file) throws Exception {
    try (InputStream in = Files.newInputStream(file)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }

  static KeyPair ecKey() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  static X509Certificate ca(X500Name subject, KeyPair key, X500Name issuerName, java.security.PrivateKey signer)
      throws Exception {
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName, BigInteger.valueOf(System.nanoTime()),
        new Date(System.currentTimeMillis() - 60_000), new Date(System.currentTimeMillis() + 86_400_000L), subject,
        key.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign));
    return sign(b, signer);
  }

  static X509Certificate sign(X509v3CertificateBuilder b, java.security.PrivateKey signer) throws Exception {
    return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA")
        .build(signer)));
  }

  /**
   * An EK certificate as the TCG profile shapes it (empty subject, critical SAN with one
   * multi-valued RDN of TPM attributes), issued by the test intermediate, with an optional EKU.
   */
  static X509Certificate ekCertificate(ASN1Encodable manufacturer, ASN1Encodable model, KeyPurposeId eku)
      throws Exception {
    return ekCertificate(manufacturer, model, eku, new Date(System.currentTimeMillis() - 60_000),
        new Date(System.currentTimeMillis() + 86_400_000L));
  }

  static X509Certificate ekCertificate(ASN1Encodable manufacturer, ASN1Encodable model, KeyPurposeId eku, Date from,
      Date to) throws Exception {
    X500Name tpmAttributes = new X500Name(new RDN[] {new RDN(new AttributeTypeAndValue[] {
        new AttributeTypeAndValue(EkCertificate.TPM_MANUFACTURER, manufacturer),
        new AttributeTypeAndValue(EkCertificate.TPM_MODEL, model),
        new AttributeTypeAndValue(EkCertificate.TPM_VERSION, new DERUTF8String("id:00010002"))})});
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name("CN=Test TPM Intermediate"),
        BigInteger.valueOf(System.nanoTime()), from, to, new X500Name(new RDN[0]), ekKey.getPublic());
    b.addExtension(Extension.subjectAlternativeName, true,
        new GeneralNames(new GeneralName(GeneralName.directoryName, tpmAttributes)));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyAgreement));
    if (eku != null) {
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(eku));
    }
    return sign(b, intermediateKey.getPrivate());
  }

  static final KeyPurposeId TCG_EK_CERTIFICATE = KeyPurposeId.getInstance(new ASN1ObjectIdentifier("2.23.133.8.1"));

  static void refused(String message, ThrowingCallable call) {
    assertThatThrownBy(call).isInstanceOfSatisfying(EvidenceException.class, e -> {
      assertThat(e.check()).isEqualTo("ek_certificate");
      assertThat(e.kind()).isEqualTo(EvidenceException.Kind.REJECTED);
    }).hasMessageContaining(message);
  }

  @Test
  void swtpmsRealCertificateChainsThroughItsIntermediateAndNamesTheTpm() throws Exception {
    EkCertificate.TpmInfo info = EkCertificate.verify(ekCert, ek, List.of(root, issuer));
    assertThat(info.manufacturer()).contains("id:00001014");
    assertThat(info.model()).contains("swtpm");
    assertThat(info.version()).hasValueSatisfying(v -> assertThat(v).startsWith("id:"));
  }

  /** An ekcert the registrar holds but the JDK does not parse: nothing without a bundle, refused with one. */
  @Test
  void anUnreadableRegistrarCertificateMattersOnlyWhereOneIsChecked() throws Exception {
    KeylimeAgentId id = KeylimeAgentId.parse("6f3c9a2e-1b4d-4c8e-9a7f-2d5e8b1c0a93");
    Optional<String> why = Optional.of("the registrar's ekcert is no DER X.509 certificate this JDK parses: x");
    assertThat(EkCertificate.check(id, Optional.empty(), why, ek, List.of(), true).outcome())
        .isEqualTo(EkCertificate.Result.Outcome.NOT_CHECKED);
    EkCertificate.Result r = EkCertificate.check(id, Optional.empty(), why, ek, List.of(root, issuer), false);
    assertThat(r.outcome()).isEqualTo(EkCertificate.Result.Outcome.REFUSED);
    assertThat(r.refusal()).isEqualTo(why);
    assertThat(r.tpm()).isEmpty();
    refused("no DER X.509 certificate this JDK parses: x, and require_ek_cert = true",
        () -> EkCertificate.check(id, Optional.empty(), why, ek, List.of(root, issuer), true));
    assertThat(EkCertificate.check(id, Optional.of(ekCert), Optional.empty(), ek, List.of(root, issuer), true).outcome())
        .isEqualTo(EkCertificate.Result.Outcome.VERIFIED);
  }

  @Test
  void anEkCertificateOutOfItsValidityIsRefusedForThatReason() throws Exception {
    long now = System.currentTimeMillis();
    X509Certificate expired = ekCertificate(new DERUTF8String("id:00001014"), new DERUTF8String("m"), TCG_EK_CERTIFICATE,
        new Date(now - 2 * 86_400_000L), new Date(now - 86_400_000L));
    refused("the EK certificate expired at", () -> EkCertificate.verify(expired, ekKey.getPublic(),
        List.of(testRoot, testIntermediate)));
    X509Certificate early = ekCertificate(new DERUTF8String("id:00001014"), new DERUTF8String("m"), TCG_EK_CERTIFICATE,
        new Date(now + 86_400_000L), new Date(now + 2 * 86_400_000L));
    refused("is not valid before", () -> EkCertificate.verify(early, ekKey.getPublic(),
        List.of(testRoot, testIntermediate)));
  }

  @Test
  void theBundleMustHoldTheIntermediateAndItsRoot() {
    refused("does not chain", () -> EkCertificate.verify(ekCert, ek, List.of(root)));
    refused("no self-signed root", () -> EkCertificate.verify(ekCert, ek, List.of(issuer)));
  }

  @Test
  void aCertificateFromAnotherCaIsRefused() throws Exception {
    refused("does not chain", () -> EkCertificate.verify(ekCert, ek, List.of(testRoot, testIntermediate)));
  }

  @Test
  void aCertificateForAnotherKeyIsRefused() throws Exception {
    PublicKey other = Templates.akRsa(Alg.SHA256).withKey(
        KeyPairGenerator.getInstance("RSA").generateKeyPair().getPublic()).toPublicKey();
    refused("does not hold the registrar's EK", () -> EkCertificate.verify(ekCert, other, List.of(root, issuer)));
  }

  @Test
  void theEkIsComparedByItsEncodingWhateverObjectHoldsIt() throws Exception {
    X509Certificate c = ekCertificate(new DERUTF8String("id:414D4400"), new DERUTF8String("m"), null);
    PublicKey otherProvider = java.security.KeyFactory.getInstance("EC", new org.bouncycastle.jce.provider
        .BouncyCastleProvider()).generatePublic(new java.security.spec.X509EncodedKeySpec(ekKey.getPublic().getEncoded()));
    assertThat(otherProvider.getClass()).isNotEqualTo(c.getPublicKey().getClass());
    EkCertificate.verify(c, otherProvider, List.of(testRoot, testIntermediate));
  }

  @Test
  void valuesWithCommasPlusSignsAndEscapesAreReadFromDer() throws Exception {
    X509Certificate c = ekCertificate(new DERUTF8String("Acme, Inc. + \"Co\"=1\\"),
        new DERUTF8String("model,+;<x>#"), TCG_EK_CERTIFICATE);
    EkCertificate.TpmInfo info = EkCertificate.verify(c, ekKey.getPublic(), List.of(testRoot, testIntermediate));
    assertThat(info.manufacturer()).contains("Acme, Inc. + \"Co\"=1\\");
    assertThat(info.model()).contains("model,+;<x>#");
    assertThat(info.version()).contains("id:00010002");
  }

  @Test
  void aBmpStringIsDecodedAsBmpNotAsUtf8() throws Exception {
    X509Certificate c = ekCertificate(new DERBMPString("Ünïcode TPM"), new DERUTF8String("m"), null);
    EkCertificate.TpmInfo info = EkCertificate.verify(c, ekKey.getPublic(), List.of(testRoot, testIntermediate));
    assertThat(info.manufacturer()).contains("Ünïcode TPM");
  }

  @Test
  void aTpmAttributeThatIsNoTextStringIsRefused() throws Exception {
    X509Certificate c = ekCertificate(new ASN1Integer(4), new DERUTF8String("m"), null);
    refused("not a text string", () -> EkCertificate.verify(c, ekKey.getPublic(), List.of(testRoot, testIntermediate)));
  }

  @Test
  void anExtendedKeyUsageWithoutTheEkPurposeIsRefused() throws Exception {
    X509Certificate tls = ekCertificate(new DERUTF8String("a"), new DERUTF8String("m"), KeyPurposeId.id_kp_serverAuth);
    refused("lacks tcg-kp-EKCertificate", () -> EkCertificate.verify(tls, ekKey.getPublic(),
        List.of(testRoot, testIntermediate)));
    X509Certificate good = ekCertificate(new DERUTF8String("a"), new DERUTF8String("m"), TCG_EK_CERTIFICATE);
    EkCertificate.verify(good, ekKey.getPublic(), List.of(testRoot, testIntermediate));
  }

  @Test
  void aGeneratedRootIntermediateEkChainNeedsBothCasInTheBundle() throws Exception {
    X509Certificate c = ekCertificate(new DERUTF8String("a"), new DERUTF8String("m"), null);
    EkCertificate.verify(c, ekKey.getPublic(), List.of(testIntermediate, testRoot));
    refused("does not chain", () -> EkCertificate.verify(c, ekKey.getPublic(), List.of(testRoot)));
    refused("no self-signed root", () -> EkCertificate.verify(c, ekKey.getPublic(), List.of(testIntermediate)));
  }
}
