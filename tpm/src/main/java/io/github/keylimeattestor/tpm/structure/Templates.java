package io.github.keylimeattestor.tpm.structure;

import static io.github.keylimeattestor.tpm.ObjectAttributes.ADMIN_WITH_POLICY;
import static io.github.keylimeattestor.tpm.ObjectAttributes.DECRYPT;
import static io.github.keylimeattestor.tpm.ObjectAttributes.FIXED_PARENT;
import static io.github.keylimeattestor.tpm.ObjectAttributes.FIXED_TPM;
import static io.github.keylimeattestor.tpm.ObjectAttributes.NO_DA;
import static io.github.keylimeattestor.tpm.ObjectAttributes.RESTRICTED;
import static io.github.keylimeattestor.tpm.ObjectAttributes.SENSITIVE_DATA_ORIGIN;
import static io.github.keylimeattestor.tpm.ObjectAttributes.SIGN;
import static io.github.keylimeattestor.tpm.ObjectAttributes.USER_WITH_AUTH;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmPublic.SymDef;
import java.util.HexFormat;

/** Public-area templates: TCG EK templates, a storage primary (SRK), Keylime's AK, an App Key. */
public final class Templates {
  /** TCG PolicyA (SHA-256): PolicySecret(TPM_RH_ENDORSEMENT), the EK low-range authPolicy. */
  public static final byte[] EK_POLICY_A_SHA256 = HexFormat.of()
      .parseHex("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");

  /** EK template attributes (L-1, L-2): no userWithAuth, admin by policy. */
  public static final int EK_ATTRIBUTES = FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN
      | ADMIN_WITH_POLICY | RESTRICTED | DECRYPT;
  /** Storage primary (TCG provisioning guidance SRK) attributes. */
  public static final int SRK_ATTRIBUTES = FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN
      | USER_WITH_AUTH | NO_DA | RESTRICTED | DECRYPT;
  /** Keylime / tss-esapi AK attributes (0x00050072). */
  public static final int AK_ATTRIBUTES = FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN
      | USER_WITH_AUTH | RESTRICTED | SIGN;
  /**
   * App Key and SVID key attributes: an unrestricted signing key that never leaves this TPM
   * (0x00040472). noDA: its authValue is empty, so dictionary-attack protection guards nothing, and
   * without noDA a TPM in lockout (another program's failed authorizations) refuses every use of it,
   * the SVID key's TLS signatures included, until the lockout ends.
   */
  public static final int APP_KEY_ATTRIBUTES = FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN
      | USER_WITH_AUTH | NO_DA | SIGN;

  private Templates() {}

  /** TCG EK Credential Profile template L-1: RSA 2048, SHA-256, AES-128-CFB. */
  public static TpmPublic ekRsa2048() {
    return TpmPublic.rsa(Alg.SHA256, EK_ATTRIBUTES, EK_POLICY_A_SHA256, SymDef.AES_128_CFB,
        Scheme.NULL, 2048, 0, new byte[256]);
  }

  /** TCG EK Credential Profile template L-2: ECC NIST P-256, SHA-256, AES-128-CFB. */
  public static TpmPublic ekEccP256() {
    return TpmPublic.ecc(Alg.SHA256, EK_ATTRIBUTES, EK_POLICY_A_SHA256, SymDef.AES_128_CFB,
        Scheme.NULL, Alg.ECC_NIST_P256, Scheme.NULL, new byte[32], new byte[32]);
  }

  /** Storage primary key, ECC P-256 (fast to create). */
  public static TpmPublic srkEccP256() {
    return TpmPublic.ecc(Alg.SHA256, SRK_ATTRIBUTES, new byte[0], SymDef.AES_128_CFB,
        Scheme.NULL, Alg.ECC_NIST_P256, Scheme.NULL, new byte[0], new byte[0]);
  }

  /** Storage primary key, RSA 2048. */
  public static TpmPublic srkRsa2048() {
    return TpmPublic.rsa(Alg.SHA256, SRK_ATTRIBUTES, new byte[0], SymDef.AES_128_CFB,
        Scheme.NULL, 2048, 0, new byte[0]);
  }

  /** Keylime's default AK: RSA 2048, RSASSA with {@code hashAlg}, nameAlg {@code hashAlg}. */
  public static TpmPublic akRsa(int hashAlg) {
    return TpmPublic.rsa(hashAlg, AK_ATTRIBUTES, new byte[0], SymDef.NULL,
        Scheme.of(Alg.RSASSA, hashAlg), 2048, 0, new byte[0]);
  }

  /** An ECC P-256 ECDSA AK. */
  public static TpmPublic akEccP256(int hashAlg) {
    return TpmPublic.ecc(hashAlg, AK_ATTRIBUTES, new byte[0], SymDef.NULL,
        Scheme.of(Alg.ECDSA, hashAlg), Alg.ECC_NIST_P256, Scheme.NULL, new byte[0], new byte[0]);
  }

  /** App Key: ECC P-256 ECDSA-SHA256, attributes {@link #APP_KEY_ATTRIBUTES}. */
  public static TpmPublic appKeyEccP256() {
    return TpmPublic.ecc(Alg.SHA256, APP_KEY_ATTRIBUTES, new byte[0], SymDef.NULL,
        Scheme.of(Alg.ECDSA, Alg.SHA256), Alg.ECC_NIST_P256, Scheme.NULL, new byte[0], new byte[0]);
  }

  /** App Key: RSA 2048 RSASSA-SHA256, attributes {@link #APP_KEY_ATTRIBUTES}. */
  public static TpmPublic appKeyRsa2048() {
    return TpmPublic.rsa(Alg.SHA256, APP_KEY_ATTRIBUTES, new byte[0], SymDef.NULL,
        Scheme.of(Alg.RSASSA, Alg.SHA256), 2048, 0, new byte[0]);
  }

  /**
   * An agent SVID key (our SPIRE KeyManager): {@link #APP_KEY_ATTRIBUTES}, no scheme fixed in the key
   * so that TPM2_Sign takes the hash SPIRE asks for. {@code type} is {@link Alg#ECC} (curve
   * {@code sizeOrCurve}: P-256, P-384) or {@link Alg#RSA} ({@code sizeOrCurve} bits: 2048, 4096).
   */
  public static TpmPublic signingKey(int type, int sizeOrCurve) {
    if (type == Alg.ECC) {
      return TpmPublic.ecc(Alg.SHA256, APP_KEY_ATTRIBUTES, new byte[0], SymDef.NULL, Scheme.NULL, sizeOrCurve,
          Scheme.NULL, new byte[0], new byte[0]);
    }
    return TpmPublic.rsa(Alg.SHA256, APP_KEY_ATTRIBUTES, new byte[0], SymDef.NULL, Scheme.NULL, sizeOrCurve, 0,
        new byte[0]);
  }
}
