package io.github.keylimeattestor.tpm;

import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.util.Base64;

/**
 * PEM text exactly as OpenSSL writes it: {@code -----BEGIN <label>-----}, base64 in 64-column
 * lines, {@code -----END <label>-----}, each line ending in a newline. The one PEM writer of the
 * project; byte-exactness matters where a hash is taken over the text (Keylime's {@code hash_ek}).
 */
public final class PemText {
  private static final Base64.Encoder LINES = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));

  private PemText() {}

  /** {@code der} under {@code label}, e.g. "CERTIFICATE", "PUBLIC KEY", "PRIVATE KEY". */
  public static String encode(String label, byte[] der) {
    return "-----BEGIN " + label + "-----\n" + LINES.encodeToString(der) + "\n-----END " + label + "-----\n";
  }

  /** The key's SubjectPublicKeyInfo as {@code PUBLIC KEY}. */
  public static String publicKey(PublicKey key) {
    return encode("PUBLIC KEY", key.getEncoded());
  }
}
