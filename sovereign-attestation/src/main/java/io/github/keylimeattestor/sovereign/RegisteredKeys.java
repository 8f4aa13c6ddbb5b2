package io.github.keylimeattestor.sovereign;

import java.security.cert.X509Certificate;
import java.util.Optional;

/**
 * What Keylime's registrar holds for the node (its {@code aik_tpm}, {@code ek_tpm} and {@code
 * ekcert}), as the caller fetched and parsed it. The registrar bound the AK to the EK by credential
 * activation; it did not check the EK certificate's issuer, which {@link EkCertificate} does.
 */
public record RegisteredKeys(TpmKey ak, TpmKey ek, Optional<X509Certificate> ekCertificate) {}
