package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;

/**
 * TPMS_ATTEST of type QUOTE or CERTIFY (TPM 2.0 Part 2, "Attestation Structures").
 *
 * @param raw the exact bytes parsed; the signature is over these
 * @param quote set when type is {@link #ST_ATTEST_QUOTE}
 * @param certify set when type is {@link #ST_ATTEST_CERTIFY}
 */
public record Attest(
    Bytes raw,
    int type,
    Bytes qualifiedSigner,
    Bytes extraData,
    long clock,
    int resetCount,
    int restartCount,
    boolean safe,
    long firmwareVersion,
    QuoteInfo quote,
    CertifyInfo certify) {

  public static final int TPM_GENERATED = 0xFF544347;
  public static final int ST_ATTEST_CERTIFY = 0x8017;
  public static final int ST_ATTEST_QUOTE = 0x8018;
  public static final int DEFAULT_LIMIT = 2048;
  private static final int MAX_NAME = 66;
  private static final int MAX_DATA = 66;
  private static final int MAX_DIGEST = 64;

  /** TPMS_QUOTE_INFO. */
  public record QuoteInfo(PcrSelection pcrSelect, Bytes pcrDigest) {}

  /** TPMS_CERTIFY_INFO. */
  public record CertifyInfo(Bytes name, Bytes qualifiedName) {}

  public boolean isQuote() {
    return type == ST_ATTEST_QUOTE;
  }

  public boolean isCertify() {
    return type == ST_ATTEST_CERTIFY;
  }

  public static Attest parse(byte[] input) throws TpmFormatException {
    return parse(input, DEFAULT_LIMIT);
  }

  public static Attest parse(Bytes input) throws TpmFormatException {
    return parse(input.toByteArray(), DEFAULT_LIMIT);
  }

  /** Parses a TPMS_ATTEST (no TPM2B size prefix) occupying all of {@code input}. */
  public static Attest parse(byte[] input, int limit) throws TpmFormatException {
    TpmReader r = TpmReader.bounded(input, limit, "TPMS_ATTEST");
    int magic = r.u32("magic");
    if (magic != TPM_GENERATED) {
      throw new TpmFormatException(String.format(
          "TPMS_ATTEST magic is 0x%08x, not TPM_GENERATED (0xff544347)", magic));
    }
    int type = r.u16("type");
    Bytes signer = r.tpm2bValue(MAX_NAME, "qualifiedSigner");
    Bytes extra = r.tpm2bValue(MAX_DATA, "extraData");
    long clock = r.u64("clock");
    int reset = r.u32("resetCount");
    int restart = r.u32("restartCount");
    int safe = r.u8("safe");
    if (safe > 1) {
      throw new TpmFormatException("clockInfo.safe is " + safe + ", not a TPMI_YES_NO");
    }
    long fw = r.u64("firmwareVersion");
    QuoteInfo q = null;
    CertifyInfo c = null;
    if (type == ST_ATTEST_QUOTE) {
      PcrSelection sel = PcrSelection.parse(r);
      q = new QuoteInfo(sel, r.tpm2bValue(MAX_DIGEST, "pcrDigest"));
    } else if (type == ST_ATTEST_CERTIFY) {
      c = new CertifyInfo(r.tpm2bValue(MAX_NAME, "name"), r.tpm2bValue(MAX_NAME, "qualifiedName"));
    } else {
      throw new TpmFormatException(String.format(
          "unsupported TPMS_ATTEST type 0x%04x (only QUOTE 0x8018 and CERTIFY 0x8017)", type));
    }
    r.expectEnd("TPMS_ATTEST");
    return new Attest(Bytes.copyFrom(input), type, signer, extra, clock, reset, restart, safe == 1, fw, q, c);
  }
}
