package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.ObjectAttributes;
import io.github.keylimeattestor.tpm.Sha256;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.Attest;
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

  private static final int[] HIERARCHIES = {Handles.RH_OWNER, Handles.RH_ENDORSEMENT, Handles.RH_PLATFORM, Handles.RH_NULL};

  /**
   * Refuses a certified key at the top of a hierarchy: its qualifiedName is nameAlg || H(hierarchy
   * handle || Name), as for a primary or an object loaded with TPM2_LoadExternal. Ours are made with
   * TPM2_Create under a parent. An external object's public area carries whatever attributes its
   * loader wrote, fixedTPM included, with the private key outside the TPM: a TPM that let
   * TPM2_Certify run on one (swtpm refuses, TPM_RC_AUTH_UNAVAILABLE: there is no authValue to
   * satisfy) would otherwise vouch for a software key as TPM-resident.
   */
  public static void checkNotTopOfAHierarchy(Attest.CertifyInfo certified, TpmPublic key, String what)
      throws EvidenceException {
    byte[] name;
    byte[] qualifiedName = certified.qualifiedName().toByteArray();
    try {
      name = key.name();
      for (int h : HIERARCHIES) {
        byte[] handle = {(byte) (h >>> 24), (byte) (h >>> 16), (byte) (h >>> 8), (byte) h};
        byte[] digest = Alg.hash(key.nameAlg(), handle, name);
        byte[] top = new byte[2 + digest.length];
        top[0] = name[0];
        top[1] = name[1];
        System.arraycopy(digest, 0, top, 2, digest.length);
        if (Bytes.copyFrom(top).constantTimeEquals(qualifiedName)) {
          throw EvidenceException.rejected(what + "_parent", what.replace('_', ' ') + " is certified as the top of "
              + String.format("hierarchy 0x%08x", h) + " (a primary, or an object loaded from outside the TPM), not a "
              + "key made under a TPM parent: nothing shows its private key is in the TPM");
        }
      }
    } catch (TpmFormatException e) {
      throw EvidenceException.malformed(what + "_public", what.replace('_', ' ') + ": " + e.getMessage());
    }
  }
}
