package io.github.keylimeattestor.tpm.testing;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.transport.TpmTransport;
import java.io.IOException;
import java.util.HexFormat;
import java.util.Map;

/**
 * Test transport: after every command asks the TPM how many transient objects are loaded
 * (TPM2_GetCapability(TPM_CAP_HANDLES, 0x80000000)) and keeps the maximum; can also fail the
 * n-th command before it reaches the TPM.
 *
 * <p>{@link #maxInUse()} also counts what the TPM loads only for the duration of a command: every
 * persistent object (0x81xxxxxx) in the command's handle area takes a transient slot while the
 * command runs (libtpms / the reference TPM), on top of the objects loaded before and after it.
 * Meaningful when no other client has objects loaded.
 */
public final class SlotWatchTransport implements TpmTransport {
  private static final byte[] GET_TRANSIENT = HexFormat.of().parseHex(
      "8001" + "00000016" + "0000017a" + "00000001" + "80000000" + "00000100");
  /** Handles in the handle area of each command our code sends (TPM 2.0 Part 3). */
  private static final Map<Integer, Integer> HANDLE_COUNT = Map.ofEntries(
      Map.entry(CommandCode.CREATE_PRIMARY, 1), Map.entry(CommandCode.CREATE, 1), Map.entry(CommandCode.LOAD, 1),
      Map.entry(CommandCode.READ_PUBLIC, 1), Map.entry(CommandCode.QUOTE, 1), Map.entry(CommandCode.CERTIFY, 2),
      Map.entry(CommandCode.ACTIVATE_CREDENTIAL, 2), Map.entry(CommandCode.CONTEXT_SAVE, 1),
      Map.entry(CommandCode.START_AUTH_SESSION, 2), Map.entry(CommandCode.POLICY_SECRET, 2),
      Map.entry(CommandCode.EVICT_CONTROL, 2), Map.entry(CommandCode.NV_READ, 2),
      Map.entry(CommandCode.NV_READ_PUBLIC, 1), Map.entry(CommandCode.PCR_RESET, 1),
      Map.entry(CommandCode.PCR_EXTEND, 1), Map.entry(CommandCode.SIGN, 1));
  private final TpmTransport delegate;
  private final boolean watch;
  private int max;
  private int maxInUse;
  private int lastTransient = -1;
  private int commands;
  private int failAt = -1;
  private byte[] failWith;
  private int failedCommandCode;

  public SlotWatchTransport(TpmTransport delegate, boolean watch) {
    this.delegate = delegate;
    this.watch = watch;
  }

  /** The n-th command from now (1-based) fails: with {@code response} if given, else IOException. */
  public void failAt(int n, byte[] response) {
    failAt = commands + n;
    failWith = response;
  }

  /** Command code of the command the last injected failure hit. */
  public int failedCommandCode() {
    return failedCommandCode;
  }

  public int commands() {
    return commands;
  }

  /** Most transient objects seen loaded between two commands. */
  public int maxTransient() {
    return max;
  }

  /** Most objects in the TPM during any command, counting persistent objects the command uses. */
  public int maxInUse() {
    return maxInUse;
  }

  public int transientNow() throws IOException {
    byte[] r = delegate.transmit(GET_TRANSIENT);
    // header(10) moreData(1) capability(4) count(4)
    return ((r[15] & 0xFF) << 24) | ((r[16] & 0xFF) << 16) | ((r[17] & 0xFF) << 8) | (r[18] & 0xFF);
  }

  private static int u32(byte[] b, int off) {
    return ((b[off] & 0xFF) << 24) | ((b[off + 1] & 0xFF) << 16) | ((b[off + 2] & 0xFF) << 8) | (b[off + 3] & 0xFF);
  }

  private static int persistentHandlesUsed(byte[] command) {
    int n = HANDLE_COUNT.getOrDefault(u32(command, 6), 0);
    int used = 0;
    for (int i = 0; i < n && 10 + 4 * i + 4 <= command.length; i++) {
      if ((u32(command, 10 + 4 * i) >>> 24) == 0x81) {
        used++;
      }
    }
    return used;
  }

  @Override
  public byte[] transmit(byte[] command) throws IOException {
    commands++;
    if (commands == failAt) {
      failedCommandCode = u32(command, 6);
      if (failWith == null) {
        throw new IOException("injected transport failure");
      }
      return failWith.clone();
    }
    if (watch && lastTransient < 0) {
      lastTransient = transientNow();
    }
    byte[] response = delegate.transmit(command);
    if (watch) {
      int now = transientNow();
      max = Math.max(max, now);
      maxInUse = Math.max(maxInUse, Math.max(lastTransient, now) + persistentHandlesUsed(command));
      lastTransient = now;
    }
    return response;
  }
}
