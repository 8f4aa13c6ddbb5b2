package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.Sha256;
import java.nio.charset.StandardCharsets;

/**
 * Ties the certification of an agent SVID key to one challenge and one KeyManager key ID. The key
 * must look like an App Key ({@link AppKeyBinding#checkAttributes}): TPM-resident, signing only.
 */
public final class SvidKeyBinding {
  static final byte[] LABEL = "svid-key".getBytes(StandardCharsets.US_ASCII);
  /** Most SVID keys one attestation may certify (spire-agent keeps two: A and B). */
  public static final int MAX_KEYS = 8;

  private SvidKeyBinding() {}

  /** TPM2_Certify qualifying data: SHA-256("svid-key" || 0 || key ID (UTF-8) || 0 || nonce ASCII). */
  public static byte[] certifyQualifyingData(Nonce nonce, String keyId) {
    byte[] zero = {0};
    return Sha256.digest(LABEL, zero, keyId.getBytes(StandardCharsets.UTF_8), zero, nonce.quoteQualifyingData());
  }
}
