package io.github.keylimeattestor.tpm;

import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Which TPM warnings pass if one waits (another client holds the slots, the TPM is busy or
 * testing, NV is rate-limited), bounded exponential backoff for retrying a whole self-contained
 * sequence within a time budget, and what to tell an operator when the condition lasts. Use:
 *
 * <pre>{@code
 * TpmRetry retry = new TpmRetry(budget);
 * while (true) {
 *   try { return sequence(); }                           // flushes all it loaded when it fails
 *   catch (TpmResponseException e) { if (!retry.again(e)) throw e; }
 * }
 * }</pre>
 */
public final class TpmRetry {
  private static final String SEE_TRANSIENT = "`tpm2_getcap handles-transient` lists the objects loaded now";
  private static final String FIX_SHARING = "give every TPM client (also the Keylime agent) a resource manager: "
      + "/dev/tpmrm0 (tcti = \"device:/dev/tpmrm0\") or tpm2-abrmd (tcti = \"tabrmd\"), which swap other clients' "
      + "objects out";

  /** Base response code -> what ran out or what the TPM is doing, and what fixes it. */
  private static final Map<Integer, String> TRANSIENT = Map.of(
      ResponseCode.OBJECT_MEMORY, "the TPM's transient object slots are all in use (swtpm has 3): another client "
          + "keeps objects loaded, typically a Keylime agent on a TPM without resource manager, which keeps its AK "
          + "loaded and leaks one more at every restart (" + SEE_TRANSIENT + "; `tpm2_flushcontext HANDLE` frees "
          + "a leaked one). Fix: " + FIX_SHARING,
      0x903, "the TPM's session slots are all in use: another client keeps sessions loaded "
          + "(`tpm2_getcap handles-loaded-session`, `tpm2_flushcontext -l`). Fix: " + FIX_SHARING,
      0x904, "the TPM ran out of memory for objects and sessions: other clients keep too much loaded ("
          + SEE_TRANSIENT + "). Fix: " + FIX_SHARING,
      0x905, "the TPM is out of session handles: other clients leave sessions open "
          + "(`tpm2_getcap handles-saved-session`). Fix: " + FIX_SHARING,
      ResponseCode.RETRY, "the TPM could not start the command (busy); it usually passes within seconds",
      ResponseCode.YIELDED, "the TPM suspended the command (busy); it usually passes within seconds",
      ResponseCode.TESTING, "the TPM is running its self-tests; it usually passes within seconds after boot",
      0x909, "the command was canceled (e.g. through tpm2-abrmd's Cancel)",
      0x920, "the TPM is rate-limiting NV accesses to protect its NV memory; it passes after a while",
      0x923, "the TPM's NV memory is not accessible right now; it usually passes within seconds");

  private static final long FIRST_PAUSE_MILLIS = 20;
  private static final long MAX_PAUSE_MILLIS = 1000;
  private final long deadline;
  private int tries = 1;
  private long pause = FIRST_PAUSE_MILLIS;

  /** A retry policy that gives up once {@code budget} has passed since now. */
  public TpmRetry(Duration budget) {
    this.deadline = System.nanoTime() + budget.toNanos();
  }

  /** True for a warning that passes if one waits (see the class comment). */
  public static boolean isTransient(ResponseCode rc) {
    return rc.isWarning() && TRANSIENT.containsKey(rc.base());
  }

  /**
   * For a transient condition, what ran out or what the TPM is doing and what fixes it; for
   * tpm2-abrmd's own per-connection limits (response-code layer 11), which abrmd option raises them.
   */
  public static Optional<String> explain(ResponseCode rc) {
    if (!isTransient(rc)) {
      return Optional.empty();
    }
    if ((rc.value() >>> 16) == ResponseCode.LAYER_RESMGR) {
      return Optional.of("tpm2-abrmd refused because this connection reached its per-connection limit "
          + "(tpm2-abrmd --max-transients / --max-sessions)");
    }
    return Optional.of(TRANSIENT.get(rc.base()));
  }

  /**
   * Decides after a failed try: for a transient condition with time left, sleeps (20 ms doubling
   * up to 1 s, never past the deadline) and returns true; otherwise returns false at once.
   */
  public boolean again(TpmResponseException e) throws InterruptedIOException {
    if (!isTransient(e.responseCode())) {
      return false;
    }
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      return false;
    }
    try {
      Thread.sleep(Math.min(pause, Math.max(1, left / 1_000_000)));
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting to retry the TPM");
    }
    pause = Math.min(pause * 2, MAX_PAUSE_MILLIS);
    tries++;
    return true;
  }

  /** Tries made so far (1 before any retry). */
  public int tries() {
    return tries;
  }
}
