package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.structure.Attest;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The newest TPMS_CLOCK_INFO seen per AK. A TPM's (resetCount, restartCount, clock) only grows, so
 * a signed quote that goes backwards is an old quote replayed or a cloned TPM state. Bounded (the
 * oldest AKs are forgotten first); thread-safe.
 */
public final class ClockHistory {
  record Tick(int resetCount, int restartCount, long clock) {
    boolean isBefore(Tick o) {
      if (resetCount != o.resetCount) {
        return Integer.compareUnsigned(resetCount, o.resetCount) < 0;
      }
      if (restartCount != o.restartCount) {
        return Integer.compareUnsigned(restartCount, o.restartCount) < 0;
      }
      return Long.compareUnsigned(clock, o.clock) < 0;
    }
  }

  private final int capacity;
  private final Map<String, Tick> last;

  public ClockHistory(int capacity) {
    this.capacity = capacity;
    this.last = new LinkedHashMap<>(16, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Tick> eldest) {
        return size() > ClockHistory.this.capacity;
      }
    };
  }

  /** Fails if {@code attest} is older than the newest attestation accepted for this AK. */
  public synchronized void check(Bytes akName, Attest attest) throws EvidenceException {
    refuseIfBefore(last.get(akName.toHex()), tick(attest));
  }

  /**
   * Records an accepted attestation (call only after every other check passed), checking again in
   * the same step: two streams of one AK verified at once (a cloned TPM state answering two
   * challenges together) both pass {@link #check} against the same history, and here the one whose
   * clock is behind fails if the other recorded first, as it would one after the other.
   */
  public synchronized void record(Bytes akName, Attest attest) throws EvidenceException {
    String key = akName.toHex();
    Tick now = tick(attest);
    Tick seen = last.get(key);
    refuseIfBefore(seen, now);
    if (seen == null || seen.isBefore(now)) {
      last.put(key, now);
    }
  }

  private static void refuseIfBefore(Tick seen, Tick now) throws EvidenceException {
    if (seen != null && now.isBefore(seen)) {
      throw EvidenceException.rejected("tpm_clock", String.format("the quote's TPM clock went backwards "
          + "(reset %d, restart %d, clock %d ms; already seen reset %d, restart %d, clock %d ms): a replayed quote or a "
          + "cloned TPM state (or a TPM cleared with TPM2_Clear, which sets its clock to 0, while spire-server ran: "
          + "if so, restarting spire-server forgets this history)", Integer.toUnsignedLong(now.resetCount()), Integer.toUnsignedLong(now.restartCount()),
          now.clock(), Integer.toUnsignedLong(seen.resetCount()), Integer.toUnsignedLong(seen.restartCount()), seen.clock()));
    }
  }

  private static Tick tick(Attest a) {
    return new Tick(a.resetCount(), a.restartCount(), a.clock());
  }
}
