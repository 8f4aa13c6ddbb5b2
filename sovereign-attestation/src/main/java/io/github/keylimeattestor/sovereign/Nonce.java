package io.github.keylimeattestor.sovereign;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The server's challenge nonce: 32 random bytes rendered as 64 lower-case hex characters. A Keylime
 * agent accepts exactly this (alphanumeric, at most 64 characters) and quotes its ASCII bytes as
 * TPMS_ATTEST.extraData, so both quote sources produce the same evidence.
 */
public record Nonce(String hex) {
  public static final int BYTES = 32;
  private static final Pattern FORM = Pattern.compile("[0-9a-f]{64}");

  public Nonce {
    if (hex == null || !FORM.matcher(hex).matches()) {
      throw new IllegalArgumentException("a nonce is 64 lower-case hex characters");
    }
  }

  public static Nonce mint(SecureRandom random) {
    byte[] b = new byte[BYTES];
    random.nextBytes(b);
    return new Nonce(HexFormat.of().formatHex(b));
  }

  /** Parses a nonce sent by the peer; malformed input is an {@link EvidenceException}. */
  public static Nonce parse(String text) throws EvidenceException {
    if (text == null || !FORM.matcher(text).matches()) {
      throw EvidenceException.malformed("nonce", "challenge nonce is not 64 lower-case hex characters");
    }
    return new Nonce(text);
  }

  /** The quote's qualifying data: the nonce's ASCII bytes, as a Keylime agent uses them. */
  public byte[] quoteQualifyingData() {
    return hex.getBytes(StandardCharsets.US_ASCII);
  }

  @Override
  public String toString() {
    return hex;
  }
}
