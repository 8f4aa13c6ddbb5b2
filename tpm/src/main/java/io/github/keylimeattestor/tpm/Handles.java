package io.github.keylimeattestor.tpm;

/** Well-known TPM handles and NV indices. */
public final class Handles {
  public static final int RH_OWNER = 0x40000001;
  public static final int RH_NULL = 0x40000007;
  public static final int RS_PW = 0x40000009;
  public static final int RH_LOCKOUT = 0x4000000A;
  public static final int RH_ENDORSEMENT = 0x4000000B;
  public static final int RH_PLATFORM = 0x4000000C;

  public static final int HR_TRANSIENT = 0x80000000;
  public static final int HR_PERSISTENT = 0x81000000;
  public static final int HR_NV_INDEX = 0x01000000;
  public static final int HR_HMAC_SESSION = 0x02000000;
  public static final int HR_POLICY_SESSION = 0x03000000;

  /** Customary persistent handles (TCG provisioning guidance; swtpm_setup uses the EK ones). */
  public static final int PERSISTENT_SRK = 0x81000001;
  public static final int PERSISTENT_EK_RSA = 0x81010001;
  public static final int PERSISTENT_EK_ECC_P384 = 0x81010016;

  /** EK certificate NV indices (TCG EK Credential Profile). */
  public static final int NV_EK_CERT_RSA2048 = 0x01C00002;
  public static final int NV_EK_CERT_ECC_P256 = 0x01C0000A;
  public static final int NV_EK_CERT_ECC_P384 = 0x01C00016;
  /** First and last NV index that may hold EK certificate chain (intermediate) certificates. */
  public static final int NV_EK_CHAIN_FIRST = 0x01C00100;
  public static final int NV_EK_CHAIN_LAST = 0x01C001FF;

  private Handles() {}

  public static boolean isTransient(int handle) {
    return (handle & 0xFF000000) == HR_TRANSIENT;
  }

  public static boolean isSession(int handle) {
    int t = handle & 0xFF000000;
    return t == HR_HMAC_SESSION || t == HR_POLICY_SESSION;
  }
}
