package io.github.keylimeattestor.sovereign;

import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Checks an EK certificate against an operator's EK CA bundle and reads the TPM's manufacturer,
 * model and version from its subjectAltName (TCG EK Credential Profile: directoryName with OIDs
 * 2.23.133.2.1/2/3). Only a certificate that chained here may feed {@code tpm:*} selectors.
 */
public final class EkCertificate {
  static final String OID_MANUFACTURER = "2.23.133.2.1";
  static final String OID_MODEL = "2.23.133.2.2";
  static final String OID_VERSION = "2.23.133.2.3";

  /** TPM identity from a verified EK certificate. */
  public record TpmInfo(Optional<String> manufacturer, Optional<String> model, Optional<String> version) {}

  private EkCertificate() {}

  /**
   * Verifies that {@code cert} holds {@code ekPublic} and chains to one of {@code anchors} (the
   * intermediates may come from {@code chain}). EK certificates carry an EKU for TPM use, not
   * for TLS, and often critical SAN/ policy extensions the JDK does not know, so revocation and
   * unknown critical extensions are not checked here.
   */
  public static TpmInfo verify(X509Certificate cert, List<X509Certificate> chain, PublicKey ekPublic,
      Collection<X509Certificate> anchors) throws EvidenceException {
    if (!cert.getPublicKey().equals(ekPublic)) {
      throw EvidenceException.rejected("ek_certificate", "the EK certificate does not hold the registrar's EK");
    }
    try {
      Set<TrustAnchor> trust = new HashSet<>();
      for (X509Certificate a : anchors) {
        trust.add(new TrustAnchor(a, null));
      }
      List<X509Certificate> path = new ArrayList<>();
      path.add(cert);
      path.addAll(chain);
      PKIXParameters params = new PKIXParameters(trust);
      params.setRevocationEnabled(false);
      params.addCertPathChecker(new LenientExtensions());
      CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(path), params);
    } catch (GeneralSecurityException e) {
      throw EvidenceException.rejected("ek_certificate", "the EK certificate (issuer " + cert.getIssuerX500Principal()
          + ") does not chain to the configured ek_ca_bundle: " + e.getMessage());
    }
    return tpmInfo(cert);
  }

  static TpmInfo tpmInfo(X509Certificate cert) {
    Optional<String> manufacturer = Optional.empty();
    Optional<String> model = Optional.empty();
    Optional<String> version = Optional.empty();
    try {
      Collection<List<?>> sans = cert.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          if (Integer.valueOf(4).equals(san.get(0)) && san.get(1) instanceof String dn) {
            for (String rdn : dn.split("[,+]")) {
              String[] kv = rdn.trim().split("=", 2);
              if (kv.length != 2) {
                continue;
              }
              String value = derString(kv[1]);
              switch (kv[0].trim()) {
                case OID_MANUFACTURER -> manufacturer = Optional.of(value);
                case OID_MODEL -> model = Optional.of(value);
                case OID_VERSION -> version = Optional.of(value);
                default -> { }
              }
            }
          }
        }
      }
    } catch (CertificateParsingException e) {
      // no readable SAN: no TPM selectors
    }
    return new TpmInfo(manufacturer, model, version);
  }

  /** RFC 2253 renders unknown attribute values as #hex DER; decode a DER string to its text. */
  static String derString(String v) {
    if (!v.startsWith("#")) {
      return v;
    }
    byte[] der = java.util.HexFormat.of().parseHex(v.substring(1));
    if (der.length < 2 || (der[1] & 0x80) != 0 || der[1] + 2 != der.length) {
      return v.substring(1);
    }
    return new String(der, 2, der.length - 2, java.nio.charset.StandardCharsets.UTF_8);
  }

  /** Accepts the critical extensions EK certificates use (SAN with TPM attributes, policies). */
  private static final class LenientExtensions extends java.security.cert.PKIXCertPathChecker {
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
