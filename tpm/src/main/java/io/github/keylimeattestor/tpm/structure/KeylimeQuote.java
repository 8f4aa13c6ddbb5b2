package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import java.util.Base64;

/**
 * Keylime's quote string: {@code "r" + b64(TPMS_ATTEST) + ":" + b64(TPMT_SIGNATURE) + ":" +
 * b64(PCR blob)}, standard base64 with padding.
 */
public record KeylimeQuote(Bytes attest, Bytes signature, Bytes pcrBlob) {
  /** Default limit on the quote string's length in characters. */
  public static final int DEFAULT_LIMIT = 16 * 1024;

  public String encode() {
    Base64.Encoder e = Base64.getEncoder();
    return "r" + e.encodeToString(attest.toByteArray()) + ":" + e.encodeToString(signature.toByteArray()) + ":"
        + e.encodeToString(pcrBlob.toByteArray());
  }

  public static KeylimeQuote parse(String quote) throws TpmFormatException {
    return parse(quote, DEFAULT_LIMIT);
  }

  /**
   * Splits and base64-decodes, accepting only the canonical encoding Keylime agents write (so a
   * quote string has one reading); the parts themselves are parsed by the accessors below.
   */
  public static KeylimeQuote parse(String quote, int limit) throws TpmFormatException {
    if (quote == null) {
      throw new TpmFormatException("quote string is missing");
    }
    if (quote.length() > limit) {
      throw new TpmFormatException("quote string is " + quote.length()
          + " characters, more than the limit of " + limit);
    }
    if (!quote.startsWith("r")) {
      throw new TpmFormatException("quote string must start with 'r' (uncompressed format)");
    }
    String[] parts = quote.substring(1).split(":", -1);
    if (parts.length != 3) {
      throw new TpmFormatException("quote string must have 3 ':'-separated parts, has " + parts.length);
    }
    Base64.Decoder d = Base64.getDecoder();
    byte[][] out = new byte[3][];
    String[] names = {"TPMS_ATTEST", "TPMT_SIGNATURE", "PCR blob"};
    for (int i = 0; i < 3; i++) {
      try {
        out[i] = d.decode(parts[i]);
      } catch (IllegalArgumentException e) {
        throw new TpmFormatException("quote string part " + names[i] + " is not base64: " + e.getMessage());
      }
      // one encoding per value: padding present, no stray bits in the last character
      if (!Base64.getEncoder().encodeToString(out[i]).equals(parts[i])) {
        throw new TpmFormatException("quote string part " + names[i] + " is not canonical base64 "
            + "(standard alphabet, '=' padding, unused bits zero)");
      }
    }
    return new KeylimeQuote(Bytes.copyFrom(out[0]), Bytes.copyFrom(out[1]), Bytes.copyFrom(out[2]));
  }

  public Attest parsedAttest() throws TpmFormatException {
    return Attest.parse(attest);
  }

  public TpmSignature parsedSignature() throws TpmFormatException {
    return TpmSignature.parse(signature);
  }

  public PcrBlob parsedPcrBlob() throws TpmFormatException {
    return PcrBlob.parse(pcrBlob);
  }
}
