package io.github.keylimeattestor.keylime;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Optional;

/**
 * The registrar's record of an activated agent ({@code GET /v2.x/agents/{uuid}}).
 *
 * @param agentId the agent's UUID (checked to equal the one asked for)
 * @param ek the endorsement key public area ({@code ek_tpm})
 * @param ekCertificate the EK certificate ({@code ekcert}), if the agent sent one; the registrar
 *     checked only that its key equals {@code ek}, not its issuer
 * @param ekCertificateUnreadable why the {@code ekcert} the registrar holds is no certificate the JDK
 *     parses (Keylime keeps vendors' malformed EK certificates on purpose); then {@code ekCertificate}
 *     is empty, and the EK certificate check decides (it is refused only where one is checked)
 * @param ak the attestation key public area ({@code aik_tpm}) bound to the EK by the credential
 *     activation
 * @param mtlsCertificate the agent's self-signed HTTPS server certificate ({@code mtls_cert});
 *     empty if the agent runs without mTLS, sent none, or sent one that is no PEM certificate (the
 *     server plugin does not use it, so it does not fail an attestation)
 * @param mtlsDisabled true if the agent registered {@code mtls_cert = "disabled"}
 * @param ip contact address, if registered
 * @param port contact port, if registered
 * @param regcount how often the agent registered with changed identity data
 */
public record RegistrarAgent(
    String agentId,
    TpmPublicArea ek,
    Optional<X509Certificate> ekCertificate,
    Optional<String> ekCertificateUnreadable,
    TpmPublicArea ak,
    Optional<X509Certificate> mtlsCertificate,
    boolean mtlsDisabled,
    Optional<String> ip,
    Optional<Integer> port,
    long regcount) {

  static RegistrarAgent parse(Fields f, String expectedId) throws KeylimeMalformedResponseException {
    String id = f.string("agent_id");
    if (!id.equals(expectedId)) {
      throw f.bad("agent_id", "is '" + id + "', not the agent asked for ('" + expectedId + "')", null);
    }
    TpmPublicArea ek = tpmPublic(f, "ek_tpm");
    TpmPublicArea ak = tpmPublic(f, "aik_tpm");
    Optional<X509Certificate> ekCert = Optional.empty();
    Optional<String> ekCertUnreadable = Optional.empty();
    if (!f.isNullOrAbsent("ekcert")) {
      byte[] der = f.base64("ekcert");
      try {
        ekCert = Optional.of(Pem.parseDerCertificate(der));
      } catch (CertificateException e) {
        ekCertUnreadable = Optional.of("the registrar's ekcert is no DER X.509 certificate this JDK parses: "
            + e.getMessage());
      }
    }
    Optional<X509Certificate> mtls = Optional.empty();
    boolean disabled = false;
    Optional<String> mtlsText = f.optString("mtls_cert");
    if (mtlsText.isPresent()) {
      if (mtlsText.get().equals("disabled")) {
        disabled = true;
      } else {
        try {
          mtls = Optional.of(Pem.parseCertificates(mtlsText.get(), "mtls_cert").get(0));
        } catch (java.io.IOException e) {
          mtls = Optional.empty();
        }
      }
    }
    long regcount = f.optInteger("regcount").orElse(0L);
    return new RegistrarAgent(
        id, ek, ekCert, ekCertUnreadable, ak, mtls, disabled, f.optString("ip"), f.optPort("port"), regcount);
  }

  private static TpmPublicArea tpmPublic(Fields f, String field)
      throws KeylimeMalformedResponseException {
    byte[] b = f.base64(field);
    try {
      return TpmPublicArea.fromTpm2b(b);
    } catch (io.github.keylimeattestor.tpm.TpmFormatException e) {
      throw f.bad(field, "is not an RSA/ECC TPM2B_PUBLIC with a valid key: " + e.getMessage(), e);
    }
  }
}
