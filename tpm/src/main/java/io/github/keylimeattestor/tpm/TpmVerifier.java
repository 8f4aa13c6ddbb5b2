package io.github.keylimeattestor.tpm;

import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import java.nio.ByteBuffer;
import java.security.PublicKey;

/**
 * Pure verification (no I/O) of quotes and certifications signed by one AK, with the signing
 * scheme and hash its public area declares ({@link SigningScheme#of}), never those a signature
 * claims. Each check throws {@link TpmVerificationException} naming what did not match; malformed
 * input throws {@link TpmFormatException}. Nothing returns a boolean to ignore.
 */
public final class TpmVerifier {
  private final PublicKey key;
  private final SigningScheme scheme;
  private final AlgorithmPolicy algorithms;

  private TpmVerifier(PublicKey key, SigningScheme scheme, AlgorithmPolicy algorithms) {
    this.key = key;
    this.scheme = scheme;
    this.algorithms = algorithms;
  }

  /**
   * A verifier for signatures by {@code ak}. Throws {@link TpmFormatException} if the public area
   * holds no usable key or signing scheme, {@link TpmVerificationException} if its scheme's hash
   * is refused by {@code algorithms}.
   */
  public static TpmVerifier forAk(TpmPublic ak, AlgorithmPolicy algorithms)
      throws TpmFormatException, TpmVerificationException {
    SigningScheme scheme = SigningScheme.of(ak);
    algorithms.check(scheme.hashAlg(), "the AK's signing scheme " + scheme);
    return new TpmVerifier(ak.toPublicKey(), scheme, algorithms);
  }

  /** The scheme every signature by this AK must declare. */
  public SigningScheme scheme() {
    return scheme;
  }

  /** A quote whose signature, type, nonce and PCR digest verified. */
  public record VerifiedQuote(Attest attest, TpmSignature signature, PcrBlob pcrs) {}

  /**
   * Checks a Keylime quote: TPMT_SIGNATURE by the AK over the TPMS_ATTEST, magic TPM_GENERATED,
   * type QUOTE, extraData equal to {@code expectedExtraData}, no refused PCR bank, and the PCR
   * blob's selection and values hashing (with the AK's hash) to the quoted pcrDigest.
   */
  public VerifiedQuote verifyQuote(KeylimeQuote quote, byte[] expectedExtraData)
      throws TpmFormatException, TpmVerificationException {
    TpmSignature sig = quote.parsedSignature();
    PcrBlob blob = quote.parsedPcrBlob();
    Attest attest = signedAndGenerated(quote.attest().toByteArray(), sig, Attest.ST_ATTEST_QUOTE, "a quote");
    checkExtraData(attest, expectedExtraData);
    Attest.QuoteInfo info = attest.quote();
    for (PcrSelection.Bank bank : info.pcrSelect().banks()) {
      algorithms.check(bank.hashAlg(), "the quoted PCR bank " + bank);
    }
    if (!info.pcrSelect().equals(blob.selection())) {
      throw new TpmVerificationException("PCR blob selection " + blob.selection()
          + " differs from the quoted selection " + info.pcrSelect());
    }
    if (!info.pcrDigest().constantTimeEquals(blob.digest(scheme.hashAlg()))) {
      throw new TpmVerificationException("PCR values do not hash to the quoted PCR digest");
    }
    return new VerifiedQuote(attest, sig, blob);
  }

  /**
   * Checks a TPM2_Certify result: signature by the AK, type CERTIFY, certified Name equal to
   * {@code certified}'s Name and computed with a hash the policy accepts, extraData equal to
   * {@code expectedExtraData}.
   */
  public Attest verifyCertify(byte[] attestBytes, byte[] signatureBytes, TpmPublic certified,
      byte[] expectedExtraData) throws TpmFormatException, TpmVerificationException {
    TpmSignature sig = TpmSignature.parse(signatureBytes);
    Attest attest = signedAndGenerated(attestBytes, sig, Attest.ST_ATTEST_CERTIFY, "a certification");
    checkExtraData(attest, expectedExtraData);
    if (!attest.certify().name().constantTimeEquals(certified.name())) {
      throw new TpmVerificationException("certified Name does not match the given public key's Name");
    }
    // the Name is what the AK vouches for: a SHA-1 Name is no stronger than SHA-1
    algorithms.check(certified.nameAlg(), "the certified key's Name (its nameAlg)");
    return attest;
  }

  /** {@link #verifyCertify(byte[], byte[], TpmPublic, byte[])} of what TPM2_Certify returned. */
  public Attest verifyCertify(Bytes attest, Bytes signature, TpmPublic certified, byte[] expectedExtraData)
      throws TpmFormatException, TpmVerificationException {
    return verifyCertify(attest.toByteArray(), signature.toByteArray(), certified, expectedExtraData);
  }

  /**
   * The signature first, then the header a TPM writes (magic TPM_GENERATED, then the type), then the
   * rest. A restricted AK also signs, through TPM2_Hash and TPM2_Sign, any data that does not start
   * with TPM_GENERATED, so a signature alone proves nothing: bytes without the magic, or of another
   * type, are evidence that does not verify (PermissionDenied), whether or not they parse.
   */
  private Attest signedAndGenerated(byte[] raw, TpmSignature sig, int type, String what)
      throws TpmFormatException, TpmVerificationException {
    sig.verify(key, scheme, raw);
    ByteBuffer header = ByteBuffer.wrap(raw);
    if (raw.length < 6 || header.getInt(0) != Attest.TPM_GENERATED) {
      throw new TpmVerificationException("the signed attestation was not generated by a TPM (its magic is not "
          + "TPM_GENERATED)");
    }
    if ((header.getShort(4) & 0xFFFF) != type) {
      throw new TpmVerificationException("attestation is not " + what);
    }
    return Attest.parse(raw);
  }

  private static void checkExtraData(Attest attest, byte[] expected) throws TpmVerificationException {
    if (!attest.extraData().constantTimeEquals(expected)) {
      throw new TpmVerificationException("extraData (nonce / qualifying data) differs from the expected value");
    }
  }
}
