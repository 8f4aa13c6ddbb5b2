package io.github.keylimeattestor.sovereign;

import java.security.cert.X509Certificate;
import java.util.Optional;

/**
 * What Keylime's registrar holds for the node (its {@code aik_tpm}, {@code ek_tpm} and {@code
 * ekcert}), as the caller fetched and parsed it. The registrar bound the AK to the EK by credential
 * activation; it did not check the EK certificate's issuer, which {@link EkCertificate} does.
 * {@code ekCertificateUnreadable} says why an ekcert the registrar holds did not parse.
 */
public record RegisteredKeys(TpmKey ak, TpmKey ek, Optional<X509Certificate> ekCertificate,
    Optional<String> ekCertificateUnreadable) {

  /** A registrar record whose ekcert, if any, parsed. */
  public RegisteredKeys(TpmKey ak, TpmKey ek, Optional<X509Certificate> ekCertificate) {
    this(ak, ek, ekCertificate, Optional.empty());
  }
}
