package io.github.keylimeattestor.tpm;

import java.util.Map;

/** TPM_CC values of the commands this module sends. */
public final class CommandCode {
  public static final int EVICT_CONTROL = 0x00000120;
  public static final int NV_READ = 0x0000014E;
  public static final int CREATE_PRIMARY = 0x00000131;
  public static final int STARTUP = 0x00000144;
  public static final int CERTIFY = 0x00000148;
  public static final int SIGN = 0x0000015D;
  public static final int POLICY_SECRET = 0x00000151;
  public static final int CREATE = 0x00000153;
  public static final int LOAD = 0x00000157;
  public static final int QUOTE = 0x00000158;
  public static final int CONTEXT_LOAD = 0x00000161;
  public static final int CONTEXT_SAVE = 0x00000162;
  public static final int FLUSH_CONTEXT = 0x00000165;
  public static final int PCR_RESET = 0x0000013D;
  public static final int ACTIVATE_CREDENTIAL = 0x00000147;
  public static final int NV_READ_PUBLIC = 0x00000169;
  public static final int READ_PUBLIC = 0x00000173;
  public static final int START_AUTH_SESSION = 0x00000176;
  public static final int GET_CAPABILITY = 0x0000017A;
  public static final int GET_RANDOM = 0x0000017B;
  public static final int PCR_READ = 0x0000017E;
  public static final int PCR_EXTEND = 0x00000182;

  private static final Map<Integer, String> NAMES = Map.ofEntries(
      Map.entry(EVICT_CONTROL, "TPM2_EvictControl"),
      Map.entry(NV_READ, "TPM2_NV_Read"),
      Map.entry(CREATE_PRIMARY, "TPM2_CreatePrimary"),
      Map.entry(STARTUP, "TPM2_Startup"),
      Map.entry(CERTIFY, "TPM2_Certify"),
      Map.entry(SIGN, "TPM2_Sign"),
      Map.entry(POLICY_SECRET, "TPM2_PolicySecret"),
      Map.entry(CREATE, "TPM2_Create"),
      Map.entry(LOAD, "TPM2_Load"),
      Map.entry(QUOTE, "TPM2_Quote"),
      Map.entry(CONTEXT_LOAD, "TPM2_ContextLoad"),
      Map.entry(CONTEXT_SAVE, "TPM2_ContextSave"),
      Map.entry(FLUSH_CONTEXT, "TPM2_FlushContext"),
      Map.entry(PCR_RESET, "TPM2_PCR_Reset"),
      Map.entry(ACTIVATE_CREDENTIAL, "TPM2_ActivateCredential"),
      Map.entry(NV_READ_PUBLIC, "TPM2_NV_ReadPublic"),
      Map.entry(READ_PUBLIC, "TPM2_ReadPublic"),
      Map.entry(START_AUTH_SESSION, "TPM2_StartAuthSession"),
      Map.entry(GET_CAPABILITY, "TPM2_GetCapability"),
      Map.entry(GET_RANDOM, "TPM2_GetRandom"),
      Map.entry(PCR_READ, "TPM2_PCR_Read"),
      Map.entry(PCR_EXTEND, "TPM2_PCR_Extend"));

  private CommandCode() {}

  public static String name(int cc) {
    String n = NAMES.get(cc);
    return n != null ? n : String.format("TPM_CC 0x%08x", cc);
  }
}
