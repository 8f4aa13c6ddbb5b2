package io.github.keylimeattestor.tpm;

/** TPMA_OBJECT bits. */
public final class ObjectAttributes {
  public static final int FIXED_TPM = 0x00000002;
  public static final int ST_CLEAR = 0x00000004;
  public static final int FIXED_PARENT = 0x00000010;
  public static final int SENSITIVE_DATA_ORIGIN = 0x00000020;
  public static final int USER_WITH_AUTH = 0x00000040;
  public static final int ADMIN_WITH_POLICY = 0x00000080;
  public static final int NO_DA = 0x00000400;
  public static final int ENCRYPTED_DUPLICATION = 0x00000800;
  public static final int RESTRICTED = 0x00010000;
  public static final int DECRYPT = 0x00020000;
  public static final int SIGN = 0x00040000;

  private ObjectAttributes() {}
}
