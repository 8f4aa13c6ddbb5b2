package io.github.keylimeattestor.sovereign;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.regex.Pattern;

/**
 * The server's challenge nonce: {@value #LENGTH} characters drawn uniformly from {@code [A-Za-z0-9]}
 * (190 bits). A Keylime agent accepts exactly such nonces (alphanumeric, at most 64 characters) and
 * quotes their ASCII bytes as TPMS_ATTEST.extraData, so both quote sources produce the same evidence.
 *
 * <p>Why 32 and not 64 characters: a TPM refuses qualifying data longer than sizeof(TPMT_HA), 2 plus
 * its largest digest (TPM 2.0 Part 2, TPM2B_DATA). swtpm implements SHA-512 (66 bytes), but a TPM
 * whose largest hash is SHA-256, as many discrete and firmware TPMs are, takes at most 34 bytes and
 * answers TPM_RC_SIZE to a 64-byte nonce.
 *
 * <p>{@link #parse} also takes the 64-character hex nonces of earlier server plugins, so an agent
 * plugin of this version answers either.
 */
public record Nonce(String text) {
  /** Characters in a minted nonce. */
  public static final int LENGTH = 32;
  /** Qualifying data a TPM with SHA-256 as its largest hash accepts: sizeof(TPMT_HA). */
  public static final int MAX_QUALIFYING_DATA = 34;
  private static final String ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  private static final Pattern FORM = Pattern.compile("[A-Za-z0-9]{32}|[0-9a-f]{64}");

  public Nonce {
    if (text == null || !FORM.matcher(text).matches()) {
      throw new IllegalArgumentException("a nonce is 32 characters of [A-Za-z0-9] (or 64 lower-case hex ones)");
    }
  }

  public static Nonce mint(SecureRandom random) {
    char[] c = new char[LENGTH];
    byte[] b = new byte[LENGTH + 8];
    int n = 0;
    while (n < LENGTH) {
      random.nextBytes(b);
      for (int i = 0; i < b.length && n < LENGTH; i++) {
        int v = b[i] & 0xff;
        if (v < 248) { // 248 = 4 * 62: rejecting the rest keeps every character equally likely
          c[n++] = ALPHABET.charAt(v % 62);
        }
      }
    }
    return new Nonce(new String(c));
  }

  /** Parses a nonce sent by the peer; malformed input is an {@link EvidenceException}. */
  public static Nonce parse(String text) throws EvidenceException {
    if (text == null || !FORM.matcher(text).matches()) {
      throw EvidenceException.malformed("nonce",
          "challenge nonce is not 32 characters of [A-Za-z0-9] (nor 64 lower-case hex ones)");
    }
    return new Nonce(text);
  }

  /** The quote's qualifying data: the nonce's ASCII bytes, as a Keylime agent uses them. */
  public byte[] quoteQualifyingData() {
    return text.getBytes(StandardCharsets.US_ASCII);
  }

  @Override
  public String toString() {
    return text;
  }
}
