package io.github.keylimeattestor.tpm;

import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import java.security.MessageDigest;
import java.security.PublicKey;

/**
 * Pure verification (no I/O) of quotes and certifications signed by an AK. Each check throws
 * {@link TpmVerificationException} naming what did not match; malformed input throws
 * {@link TpmFormatException}.
 */
public final class TpmVerifier {
  private TpmVerifier() {}

  /** A quote whose signature, type, nonce and PCR digest verified. */
  public record VerifiedQuote(Attest attest, TpmSignature signature, PcrBlob pcrs) {}

  /**
   * Checks a Keylime quote: TPMT_SIGNATURE by {@code ak} over the TPMS_ATTEST, magic
   * TPM_GENERATED, type QUOTE, extraData equal to {@code expectedExtraData}, and the PCR blob's
   * selection and values hashing to the quoted pcrDigest (with the signature's hash).
   */
  public static VerifiedQuote verifyQuote(PublicKey ak, KeylimeQuote quote, byte[] expectedExtraData)
      throws TpmFormatException, TpmVerificationException {
    Attest attest = quote.parsedAttest();
    TpmSignature sig = quote.parsedSignature();
    PcrBlob blob = quote.parsedPcrBlob();
    checkSignature(ak, attest, sig);
    if (!attest.isQuote()) {
      throw new TpmVerificationException("attestation is not a quote");
    }
    checkExtraData(attest, expectedExtraData);
    Attest.QuoteInfo info = attest.quote();
    if (!info.pcrSelect().equals(blob.selection())) {
      throw new TpmVerificationException("PCR blob selection " + blob.selection()
          + " differs from the quoted selection " + info.pcrSelect());
    }
    if (!MessageDigest.isEqual(info.pcrDigest(), blob.digest(sig.hashAlg()))) {
      throw new TpmVerificationException("PCR values do not hash to the quoted PCR digest");
    }
    return new VerifiedQuote(attest, sig, blob);
  }

  /**
   * Checks a TPM2_Certify result: signature by {@code ak}, type CERTIFY, certified Name equal to
   * {@code certified}'s Name, extraData equal to {@code expectedExtraData}.
   */
  public static Attest verifyCertify(PublicKey ak, byte[] attestBytes, byte[] signatureBytes,
      TpmPublic certified, byte[] expectedExtraData) throws TpmFormatException, TpmVerificationException {
    Attest attest = Attest.parse(attestBytes);
    TpmSignature sig = TpmSignature.parse(signatureBytes);
    checkSignature(ak, attest, sig);
    if (!attest.isCertify()) {
      throw new TpmVerificationException("attestation is not a certification");
    }
    checkExtraData(attest, expectedExtraData);
    if (!MessageDigest.isEqual(attest.certify().name(), certified.name())) {
      throw new TpmVerificationException("certified Name does not match the given public key's Name");
    }
    return attest;
  }

  /** Signature check alone. */
  public static void checkSignature(PublicKey key, Attest attest, TpmSignature sig)
      throws TpmFormatException, TpmVerificationException {
    if (!sig.verify(key, attest.raw())) {
      throw new TpmVerificationException("signature does not verify with the attestation key");
    }
  }

  private static void checkExtraData(Attest attest, byte[] expected) throws TpmVerificationException {
    if (!MessageDigest.isEqual(attest.extraData(), expected)) {
      throw new TpmVerificationException("extraData (nonce / qualifying data) differs from the expected value");
    }
  }
}
