package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.ObjectAttributes;
import io.github.keylimeattestor.tpm.Sha256;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.nio.charset.StandardCharsets;

/**
 * Ties the App Key certification to one challenge, and says what an App Key must look like: a
 * TPM-resident signing key that never left the TPM (fixedTPM, fixedParent, sensitiveDataOrigin,
 * sign; not decrypt, not restricted).
 */
public final class AppKeyBinding {
  static final byte[] LABEL = "app-key".getBytes(StandardCharsets.US_ASCII);
  public static final int REQUIRED = ObjectAttributes.FIXED_TPM | ObjectAttributes.FIXED_PARENT
      | ObjectAttributes.SENSITIVE_DATA_ORIGIN | ObjectAttributes.SIGN;
  public static final int FORBIDDEN = ObjectAttributes.DECRYPT | ObjectAttributes.RESTRICTED;

  private AppKeyBinding() {}

  /** TPM2_Certify qualifying data: SHA-256("app-key" || nonce ASCII). */
  public static byte[] certifyQualifyingData(Nonce nonce) {
    return Sha256.digest(LABEL, nonce.quoteQualifyingData());
  }

  /** Refuses an App Key whose attributes do not prove it is TPM-bound and signing-only. */
  public static void checkAttributes(TpmPublic appKey) throws EvidenceException {
    int a = appKey.objectAttributes();
    if ((a & REQUIRED) != REQUIRED || (a & FORBIDDEN) != 0) {
      throw EvidenceException.rejected("app_key_attributes", String.format(
          "App Key attributes 0x%08x: it must be fixedTPM, fixedParent, sensitiveDataOrigin and sign, "
              + "and neither decrypt nor restricted", a));
    }
  }
}
