package io.github.keylimeattestor.tpm;

import java.util.HashMap;
import java.util.Map;

/**
 * A decoded TPM_RC (TPM 2.0 Part 2, "Response Codes"): the base code's name, which handle,
 * parameter or session it refers to, and a sentence for an operator.
 *
 * @param value the raw response code
 * @param name the base code name, e.g. {@code TPM_RC_HANDLE}
 * @param handle 1-based handle number the error refers to, or 0
 * @param parameter 1-based parameter number, or 0
 * @param session 1-based session number, or 0
 * @param description what the code means, in words
 */
public record ResponseCode(
    int value, String name, int handle, int parameter, int session, String description) {

  public static final int SUCCESS = 0x000;
  public static final int INITIALIZE = 0x100;
  public static final int HANDLE = 0x08B;
  public static final int OBJECT_MEMORY = 0x902;
  public static final int BAD_AUTH = 0x0A2;
  public static final int AUTH_FAIL = 0x08E;
  public static final int VALUE = 0x084;
  public static final int SIZE = 0x095;
  public static final int NV_RANGE = 0x146;
  public static final int RETRY = 0x922;
  public static final int YIELDED = 0x908;
  public static final int TESTING = 0x90A;
  public static final int REFERENCE_H0 = 0x910;
  public static final int COMMAND_CODE = 0x143;
  /** TSS2 layer of TCTI errors (TSS2_TCTI_RC_LAYER >> 16): tpm2-abrmd passes on those of its own TCTI. */
  public static final int LAYER_TCTI = 10;
  /** TSS2 response-code layer of tpm2-abrmd's own answers (TSS2_RESMGR_RC_LAYER >> 16). */
  public static final int LAYER_RESMGR = 11;
  /** TSS2 layer of TPM codes that tpm2-abrmd passes on (TSS2_RESMGR_TPM_RC_LAYER >> 16). */
  public static final int LAYER_RESMGR_TPM = 12;

  private static final Map<Integer, String[]> TABLE = new HashMap<>();

  /** TSS2_BASE_RC_* (tss2_common.h), by value. */
  private static final String[] TSS2_BASE_RC = {"TSS2_RC_SUCCESS", "TSS2_BASE_RC_GENERAL_FAILURE",
      "TSS2_BASE_RC_NOT_IMPLEMENTED", "TSS2_BASE_RC_BAD_CONTEXT", "TSS2_BASE_RC_ABI_MISMATCH",
      "TSS2_BASE_RC_BAD_REFERENCE", "TSS2_BASE_RC_INSUFFICIENT_BUFFER", "TSS2_BASE_RC_BAD_SEQUENCE",
      "TSS2_BASE_RC_NO_CONNECTION", "TSS2_BASE_RC_TRY_AGAIN", "TSS2_BASE_RC_IO_ERROR", "TSS2_BASE_RC_BAD_VALUE"};

  private static void def(int code, String name, String text) {
    TABLE.put(code, new String[] {name, text});
  }

  static {
    def(0x000, "TPM_RC_SUCCESS", "the command succeeded");
    // format 0, TPM_RC_VER1
    def(0x100, "TPM_RC_INITIALIZE", "TPM not initialized by TPM2_Startup or already initialized");
    def(0x101, "TPM_RC_FAILURE", "the TPM is in failure mode; it needs a reset");
    def(0x103, "TPM_RC_SEQUENCE", "improper use of a sequence handle");
    def(0x10B, "TPM_RC_PRIVATE", "not currently used");
    def(0x119, "TPM_RC_HMAC", "not currently used");
    def(0x120, "TPM_RC_DISABLED", "the command is disabled");
    def(0x121, "TPM_RC_EXCLUSIVE", "the command failed because audit sequence required exclusivity");
    def(0x124, "TPM_RC_AUTH_TYPE", "authorization handle is not correct for the command");
    def(0x125, "TPM_RC_AUTH_MISSING", "the command requires an authorization session for a handle and it is not present");
    def(0x126, "TPM_RC_POLICY", "policy failure in math operation or an invalid authPolicy value");
    def(0x127, "TPM_RC_PCR", "PCR check fail");
    def(0x128, "TPM_RC_PCR_CHANGED", "PCR have changed since checked");
    def(0x12D, "TPM_RC_UPGRADE", "the TPM is in field upgrade mode");
    def(0x12E, "TPM_RC_TOO_MANY_CONTEXTS", "context ID counter is at maximum");
    def(0x12F, "TPM_RC_AUTH_UNAVAILABLE", "authValue or authPolicy is not available for the selected entity");
    def(0x130, "TPM_RC_REBOOT", "a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation");
    def(0x131, "TPM_RC_UNBALANCED", "the protection algorithms (hash and symmetric) are not reasonably balanced");
    def(0x142, "TPM_RC_COMMAND_SIZE", "command commandSize value is inconsistent with contents of the command buffer");
    def(0x143, "TPM_RC_COMMAND_CODE", "the command code is not supported by this TPM");
    def(0x144, "TPM_RC_AUTHSIZE", "the value of authorizationSize is out of range or the number of sessions is wrong");
    def(0x145, "TPM_RC_AUTH_CONTEXT", "use of an authorization session with a context command or another command that cannot have one");
    def(0x146, "TPM_RC_NV_RANGE", "NV offset+size is out of range");
    def(0x147, "TPM_RC_NV_SIZE", "requested allocation size is larger than allowed");
    def(0x148, "TPM_RC_NV_LOCKED", "NV access locked");
    def(0x149, "TPM_RC_NV_AUTHORIZATION", "NV access authorization fails in command actions");
    def(0x14A, "TPM_RC_NV_UNINITIALIZED", "an NV index is used before being initialized (written)");
    def(0x14B, "TPM_RC_NV_SPACE", "insufficient space for NV allocation");
    def(0x14C, "TPM_RC_NV_DEFINED", "NV index or persistent object already defined");
    def(0x150, "TPM_RC_BAD_CONTEXT", "context in TPM2_ContextLoad() is not valid");
    def(0x151, "TPM_RC_CPHASH", "cpHash value already set or not correct for use");
    def(0x152, "TPM_RC_PARENT", "handle for parent is not a valid parent");
    def(0x153, "TPM_RC_NEEDS_TEST", "some function needs testing");
    def(0x154, "TPM_RC_NO_RESULT", "an internal function cannot process a request due to an unspecified problem");
    def(0x155, "TPM_RC_SENSITIVE", "the sensitive area did not unmarshal correctly after decryption");
    // format 1
    def(0x081, "TPM_RC_ASYMMETRIC", "asymmetric algorithm not supported or not correct");
    def(0x082, "TPM_RC_ATTRIBUTES", "inconsistent attributes");
    def(0x083, "TPM_RC_HASH", "hash algorithm not supported or not appropriate");
    def(0x084, "TPM_RC_VALUE", "value is out of range or is not correct for the context");
    def(0x085, "TPM_RC_HIERARCHY", "hierarchy is not enabled or is not correct for the use");
    def(0x087, "TPM_RC_KEY_SIZE", "key size is not supported");
    def(0x088, "TPM_RC_MGF", "mask generation function not supported");
    def(0x089, "TPM_RC_MODE", "mode of operation not supported");
    def(0x08A, "TPM_RC_TYPE", "the type of the value is not appropriate for the use");
    def(0x08B, "TPM_RC_HANDLE", "the handle is not correct for the use (no such object, index or session is loaded or defined)");
    def(0x08C, "TPM_RC_KDF", "unsupported key derivation function or function not appropriate for use");
    def(0x08D, "TPM_RC_RANGE", "value was out of allowed range");
    def(0x08E, "TPM_RC_AUTH_FAIL", "the authorization HMAC check failed and the DA counter was incremented");
    def(0x08F, "TPM_RC_NONCE", "invalid nonce size or nonce value mismatch");
    def(0x090, "TPM_RC_PP", "authorization requires assertion of physical presence");
    def(0x092, "TPM_RC_SCHEME", "unsupported or incompatible scheme");
    def(0x095, "TPM_RC_SIZE", "structure is the wrong size");
    def(0x096, "TPM_RC_SYMMETRIC", "unsupported symmetric algorithm or key size, or not appropriate for instance");
    def(0x097, "TPM_RC_TAG", "incorrect structure tag");
    def(0x098, "TPM_RC_SELECTOR", "union selector is incorrect");
    def(0x09A, "TPM_RC_INSUFFICIENT", "the TPM was unable to unmarshal a value because there were not enough octets in the input buffer");
    def(0x09B, "TPM_RC_SIGNATURE", "the signature is not valid");
    def(0x09C, "TPM_RC_KEY", "key fields are not compatible with the selected use");
    def(0x09D, "TPM_RC_POLICY_FAIL", "a policy check failed");
    def(0x09F, "TPM_RC_INTEGRITY", "integrity check failed (the key blob does not belong to this parent or this TPM)");
    def(0x0A0, "TPM_RC_TICKET", "invalid ticket");
    def(0x0A1, "TPM_RC_RESERVED_BITS", "reserved bits not set to zero as required");
    def(0x0A2, "TPM_RC_BAD_AUTH", "authorization failure without DA implications (wrong password or HMAC for a hierarchy or noDA object)");
    def(0x0A3, "TPM_RC_EXPIRED", "the policy has expired");
    def(0x0A4, "TPM_RC_POLICY_CC", "the commandCode in the policy is not the commandCode of the command or the command code in a policy command references a command that is not implemented");
    def(0x0A5, "TPM_RC_BINDING", "public and sensitive portions of an object are not cryptographically bound");
    def(0x0A6, "TPM_RC_CURVE", "curve not supported");
    def(0x0A7, "TPM_RC_ECC_POINT", "point is not on the required curve");
    // warnings
    def(0x901, "TPM_RC_CONTEXT_GAP", "gap for context ID is too large");
    def(0x902, "TPM_RC_OBJECT_MEMORY", "out of memory for object contexts: all transient slots are in use; another client (e.g. tpm2-tools) may have left objects loaded");
    def(0x903, "TPM_RC_SESSION_MEMORY", "out of memory for session contexts");
    def(0x904, "TPM_RC_MEMORY", "out of shared object/session memory or need space for internal operations");
    def(0x905, "TPM_RC_SESSION_HANDLES", "out of session handles; a session must be flushed before a new session may be created");
    def(0x906, "TPM_RC_OBJECT_HANDLES", "out of object handles; the handle space for objects is depleted and a reboot is required");
    def(0x907, "TPM_RC_LOCALITY", "bad locality");
    def(0x908, "TPM_RC_YIELDED", "the TPM has suspended operation on the command; the command may be retried");
    def(0x909, "TPM_RC_CANCELED", "the command was canceled");
    def(0x90A, "TPM_RC_TESTING", "the TPM is performing self-tests; retry later");
    for (int i = 0; i < 7; i++) {
      def(0x910 + i, "TPM_RC_REFERENCE_H" + i, "the handle in position " + (i + 1) + " refers to a transient object or session that is not loaded");
      def(0x918 + i, "TPM_RC_REFERENCE_S" + i, "the session in position " + (i + 1) + " is not loaded");
    }
    def(0x920, "TPM_RC_NV_RATE", "the TPM is rate-limiting accesses to prevent wearout of NV");
    def(0x921, "TPM_RC_LOCKOUT", "authorizations for objects subject to dictionary-attack protection are not allowed because the TPM is in lockout mode");
    def(0x922, "TPM_RC_RETRY", "the TPM was not able to start the command; retry");
    def(0x923, "TPM_RC_NV_UNAVAILABLE", "the command may require writing of NV and NV is not currently accessible");
    def(0x97F, "TPM_RC_NOT_USED", "this value is reserved and shall not be returned by the TPM");
  }

  /** Decodes any 32-bit response code. */
  public static ResponseCode decode(int rc) {
    if (rc == 0) {
      return new ResponseCode(0, "TPM_RC_SUCCESS", 0, 0, 0, "the command succeeded");
    }
    int layer = rc >>> 16;
    if (layer == LAYER_TCTI || (layer == LAYER_RESMGR && (rc & 0xFFFF) < 0x100)) {
      // TSS2_BASE_RC_* under a TSS layer: tpm2-abrmd's own failure, or its TCTI's, not the TPM's answer
      int low = rc & 0xFFFF;
      String base = low < TSS2_BASE_RC.length ? TSS2_BASE_RC[low] : "TSS2_BASE_RC " + low;
      return new ResponseCode(rc, base, 0, 0, 0, layer == LAYER_TCTI
          ? "tpm2-abrmd's connection to the TPM (its TCTI) failed; this is not the TPM's answer: see tpm2-abrmd's log "
              + "and its --tcti"
          : "tpm2-abrmd failed on its own; this is not the TPM's answer: see tpm2-abrmd's log");
    }
    if (layer == LAYER_RESMGR || layer == LAYER_RESMGR_TPM) {
      ResponseCode low = decode(rc & 0xFFFF);
      return new ResponseCode(rc, low.name(), low.handle(), low.parameter(), low.session(),
          low.description() + (layer == LAYER_RESMGR ? " (from tpm2-abrmd, not from the TPM)" : " (via tpm2-abrmd)"));
    }
    int handle = 0;
    int parameter = 0;
    int session = 0;
    int base;
    if ((rc & 0x080) != 0) { // format 1
      base = rc & 0x0BF;
      int n = (rc >>> 8) & 0xF;
      if ((rc & 0x040) != 0) {
        parameter = n;
      } else if ((n & 0x8) != 0) {
        session = n & 0x7;
      } else {
        handle = n;
      }
    } else if ((rc & 0x100) == 0) {
      return new ResponseCode(rc, String.format("TPM 1.2 RC 0x%x", rc), 0, 0, 0,
          "a TPM 1.2 response code; this is not a TPM 2.0 response");
    } else if ((rc & 0x400) != 0) {
      return new ResponseCode(rc, String.format("vendor RC 0x%x", rc), 0, 0, 0,
          "a TPM vendor-defined response code");
    } else {
      base = rc & 0xB7F;
    }
    String[] entry = TABLE.get(base);
    if (entry == null || (rc & ~0xFFF) != 0) {
      return new ResponseCode(rc, String.format("unknown RC 0x%x", rc), handle, parameter, session,
          "a response code this client does not know");
    }
    return new ResponseCode(rc, entry[0], handle, parameter, session, entry[1]);
  }

  /** The code without handle/parameter/session number, e.g. 0x08B for any TPM_RC_HANDLE. */
  public int base() {
    return (value & 0x080) != 0 ? value & 0x0BF : value & 0xB7F;
  }

  public boolean isWarning() {
    return (value & 0x980) == 0x900;
  }

  /**
   * A failure of the software between this plugin and the TPM (tpm2-abrmd or its TCTI), not a code
   * the TPM answered: the TPM is unreachable for now, which is no refusal of the request.
   */
  public boolean fromSoftwareStack() {
    int layer = value >>> 16;
    return layer != 0 && layer != LAYER_RESMGR_TPM && !(layer == LAYER_RESMGR && (value & 0xFFFF) >= 0x100);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(name);
    if (handle != 0) {
      sb.append(" (handle ").append(handle).append(')');
    }
    if (parameter != 0) {
      sb.append(" (parameter ").append(parameter).append(')');
    }
    if (session != 0) {
      sb.append(" (session ").append(session).append(')');
    }
    sb.append(String.format(" [0x%03x]: ", value)).append(description);
    return sb.toString();
  }
}
