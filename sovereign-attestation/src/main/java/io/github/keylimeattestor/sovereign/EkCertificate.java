package io.github.keylimeattestor.sovereign;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertStore;
import java.security.cert.CertificateParsingException;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.PKIXCertPathChecker;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.bouncycastle.asn1.ASN1BMPString;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1IA5String;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1PrintableString;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.ASN1UTF8String;
import org.bouncycastle.asn1.ASN1VisibleString;
import org.bouncycastle.asn1.x500.AttributeTypeAndValue;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;

/**
 * Checks an EK certificate against an operator's EK CA bundle and reads the TPM's manufacturer,
 * model and version from its subjectAltName (TCG EK Credential Profile: a directoryName with the
 * attributes 2.23.133.2.1/2/3), as DER, never from a rendered name. Only a certificate that
 * chained here may feed {@code tpm:*} selectors.
 *
 * <p>The bundle holds the vendors' self-signed root CAs (the trust anchors) and their intermediate
 * CAs: Keylime's registrar keeps only the EK certificate itself, so the intermediates on the path
 * come from the bundle, and each is checked (signature, validity, CA constraints) on the way to a
 * root. An intermediate without its root in the bundle anchors nothing.
 */
public final class EkCertificate {
  static final ASN1ObjectIdentifier TPM_MANUFACTURER = new ASN1ObjectIdentifier("2.23.133.2.1");
  static final ASN1ObjectIdentifier TPM_MODEL = new ASN1ObjectIdentifier("2.23.133.2.2");
  static final ASN1ObjectIdentifier TPM_VERSION = new ASN1ObjectIdentifier("2.23.133.2.3");
  /** tcg-kp-EKCertificate: the EKU an EK certificate carries when it has an EKU extension at all. */
  static final String EKU_EK_CERTIFICATE = "2.23.133.8.1";

  /** TPM identity from a verified EK certificate. */
  public record TpmInfo(Optional<String> manufacturer, Optional<String> model, Optional<String> version) {}

  /**
   * What the registrar's EK certificate proved for one attestation. Only {@link Outcome#VERIFIED}
   * carries the TPM's identity (the {@code tpm:*} selectors, {@code .TPMManufacturer} / {@code
   * .TPMModel}); {@link Outcome#REFUSED} says why, for the log.
   */
  public record Result(Outcome outcome, Optional<TpmInfo> tpm, Optional<String> refusal) {
    public enum Outcome {
      /** No ek_ca_bundle is configured. */
      NOT_CHECKED,
      /** The node registered no EK certificate. */
      ABSENT,
      /** The certificate did not verify (and require_ek_cert is off). */
      REFUSED,
      VERIFIED
    }

    public static final Result NOT_CHECKED = new Result(Outcome.NOT_CHECKED, Optional.empty(), Optional.empty());
    public static final Result ABSENT = new Result(Outcome.ABSENT, Optional.empty(), Optional.empty());

    static Result verified(TpmInfo tpm) {
      return new Result(Outcome.VERIFIED, Optional.of(tpm), Optional.empty());
    }

    static Result refused(String reason) {
      return new Result(Outcome.REFUSED, Optional.empty(), Optional.of(reason));
    }
  }

  private EkCertificate() {}

  /**
   * The EK certificate check of one attestation: none without a {@code bundle}; with one, a missing
   * or unverifiable certificate is refused if {@code required} (require_ek_cert), else reported; so
   * is one the registrar holds that did not parse ({@code unreadable}: why).
   */
  public static Result check(KeylimeAgentId agentId, Optional<X509Certificate> cert, Optional<String> unreadable,
      PublicKey ekPublic, Collection<X509Certificate> bundle, boolean required) throws EvidenceException {
    if (bundle.isEmpty()) {
      return Result.NOT_CHECKED;
    }
    if (unreadable.isPresent()) {
      if (required) {
        throw EvidenceException.rejected("ek_certificate", "agent " + agentId + ": " + unreadable.get()
            + ", and require_ek_cert = true");
      }
      return Result.refused(unreadable.get());
    }
    if (cert.isEmpty()) {
      if (required) {
        throw EvidenceException.rejected("ek_certificate", "agent " + agentId
            + " registered no EK certificate and require_ek_cert = true");
      }
      return Result.ABSENT;
    }
    try {
      return Result.verified(verify(cert.get(), ekPublic, bundle));
    } catch (EvidenceException e) {
      if (required) {
        throw e;
      }
      return Result.refused(e.getMessage());
    }
  }

  /**
   * Verifies that {@code cert} holds {@code ekPublic} (same encoded SubjectPublicKeyInfo), that an
   * extended key usage, if present, includes tcg-kp-EKCertificate, and that it chains through
   * intermediates of {@code bundle} to a self-signed root of {@code bundle}. EK certificates often
   * carry critical SAN / policy extensions that the JDK does not process, so those are accepted;
   * revocation is not checked.
   */
  public static TpmInfo verify(X509Certificate cert, PublicKey ekPublic, Collection<X509Certificate> bundle)
      throws EvidenceException {
    if (!MessageDigest.isEqual(cert.getPublicKey().getEncoded(), ekPublic.getEncoded())) {
      throw EvidenceException.rejected("ek_certificate", "the EK certificate does not hold the registrar's EK");
    }
    checkExtendedKeyUsage(cert);
    chain(cert, bundle);
    return tpmInfo(cert);
  }

  private static void checkExtendedKeyUsage(X509Certificate cert) throws EvidenceException {
    List<String> eku;
    try {
      eku = cert.getExtendedKeyUsage();
    } catch (CertificateParsingException e) {
      throw EvidenceException.rejected("ek_certificate", "the EK certificate's extended key usage is unreadable: "
          + e.getMessage());
    }
    if (eku != null && !eku.contains(EKU_EK_CERTIFICATE)) {
      throw EvidenceException.rejected("ek_certificate", "the EK certificate's extended key usage " + eku
          + " lacks tcg-kp-EKCertificate (" + EKU_EK_CERTIFICATE + "): it is not an EK certificate");
    }
  }

  private static void chain(X509Certificate cert, Collection<X509Certificate> bundle) throws EvidenceException {
    Set<TrustAnchor> roots = new HashSet<>();
    List<Object> intermediates = new ArrayList<>();
    for (X509Certificate c : bundle) {
      if (selfSigned(c)) {
        roots.add(new TrustAnchor(c, null));
      } else {
        intermediates.add(c);
      }
    }
    if (roots.isEmpty()) {
      throw EvidenceException.rejected("ek_certificate", "ek_ca_bundle holds no self-signed root CA, only "
          + intermediates.size() + " intermediate(s): add the root CA(s) that issued them");
    }
    java.util.Date now = new java.util.Date();
    checkValidity("the EK certificate", cert, now);
    intermediates.add(cert);
    try {
      X509CertSelector target = new X509CertSelector();
      target.setCertificate(cert);
      PKIXBuilderParameters params = new PKIXBuilderParameters(roots, target);
      params.setRevocationEnabled(false);
      params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(intermediates)));
      params.addCertPathChecker(new LenientExtensions());
      CertPathBuilder.getInstance("PKIX").build(params);
    } catch (GeneralSecurityException e) {
      List<String> outOfDate = new ArrayList<>();
      for (X509Certificate c : bundle) {
        try {
          checkValidity("ek_ca_bundle's " + c.getSubjectX500Principal(), c, now);
        } catch (EvidenceException stale) {
          outOfDate.add(stale.getMessage());
        }
      }
      throw EvidenceException.rejected("ek_certificate", "the EK certificate (issuer " + cert.getIssuerX500Principal()
          + ") does not chain to a root CA of ek_ca_bundle (which must also hold the intermediate CAs): "
          + e.getMessage() + (outOfDate.isEmpty() ? "" : "; out of date in the bundle: " + String.join("; ", outOfDate)));
    }
  }

  /** Named apart: the path builder's own refusal of an expired certificate says only "no valid path". */
  private static void checkValidity(String what, X509Certificate c, java.util.Date now) throws EvidenceException {
    if (now.after(c.getNotAfter())) {
      throw EvidenceException.rejected("ek_certificate", what + " expired at " + c.getNotAfter().toInstant()
          + " (issuer " + c.getIssuerX500Principal() + ")");
    }
    if (now.before(c.getNotBefore())) {
      throw EvidenceException.rejected("ek_certificate", what + " is not valid before " + c.getNotBefore().toInstant()
          + " (issuer " + c.getIssuerX500Principal() + "): is this server's clock right?");
    }
  }

  private static boolean selfSigned(X509Certificate c) {
    if (!c.getSubjectX500Principal().equals(c.getIssuerX500Principal())) {
      return false;
    }
    try {
      c.verify(c.getPublicKey());
      return true;
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /**
   * The TPM attributes of the SAN's directoryName(s), read from their DER: every RDN, also
   * multi-valued ones, and the value's own string type. Refused: a TPM attribute that is not a
   * text string, or one given twice.
   */
  static TpmInfo tpmInfo(X509Certificate cert) throws EvidenceException {
    Map<ASN1ObjectIdentifier, String> found = new LinkedHashMap<>();
    byte[] ext = cert.getExtensionValue(Extension.subjectAlternativeName.getId());
    if (ext != null) {
      try {
        readTpmAttributes(GeneralNames.getInstance(ASN1OctetString.getInstance(ext).getOctets()), found);
      } catch (IllegalArgumentException | IllegalStateException e) {
        // BouncyCastle's ASN1ParsingException is an IllegalStateException
        throw EvidenceException.rejected("ek_certificate", "the EK certificate's subjectAltName is not DER: "
            + e.getMessage());
      }
    }
    return new TpmInfo(Optional.ofNullable(found.get(TPM_MANUFACTURER)), Optional.ofNullable(found.get(TPM_MODEL)),
        Optional.ofNullable(found.get(TPM_VERSION)));
  }

  private static void readTpmAttributes(GeneralNames names, Map<ASN1ObjectIdentifier, String> found)
      throws EvidenceException {
    for (GeneralName name : names.getNames()) {
      if (name.getTagNo() != GeneralName.directoryName) {
        continue;
      }
      for (RDN rdn : X500Name.getInstance(name.getName()).getRDNs()) {
        for (AttributeTypeAndValue atv : rdn.getTypesAndValues()) {
          ASN1ObjectIdentifier type = atv.getType();
          if (type.equals(TPM_MANUFACTURER) || type.equals(TPM_MODEL) || type.equals(TPM_VERSION)) {
            if (found.put(type, text(type, atv.getValue())) != null) {
              throw EvidenceException.rejected("ek_certificate", "the EK certificate names TPM attribute "
                  + type + " twice");
            }
          }
        }
      }
    }
  }

  /** The value of a text string type (UTF8String in the TCG profile; also Printable, IA5, Visible, BMP). */
  private static String text(ASN1ObjectIdentifier type, ASN1Encodable value) throws EvidenceException {
    if (value instanceof ASN1UTF8String || value instanceof ASN1PrintableString || value instanceof ASN1IA5String
        || value instanceof ASN1VisibleString || value instanceof ASN1BMPString) {
      return ((ASN1String) value).getString();
    }
    throw EvidenceException.rejected("ek_certificate", "the EK certificate's TPM attribute " + type + " is a "
        + value.getClass().getSimpleName() + ", not a text string");
  }

  /** Accepts the critical extensions EK certificates use (SAN with TPM attributes, policies, EKU). */
  private static final class LenientExtensions extends PKIXCertPathChecker {
    @Override
    public void init(boolean forward) {}

    @Override
    public boolean isForwardCheckingSupported() {
      return true;
    }

    @Override
    public Set<String> getSupportedExtensions() {
      return Set.of("2.5.29.17", "2.5.29.32", "2.5.29.9", "2.5.29.37");
    }

    @Override
    public void check(java.security.cert.Certificate cert, Collection<String> unresolved) {
      unresolved.removeAll(getSupportedExtensions());
    }
  }
}
