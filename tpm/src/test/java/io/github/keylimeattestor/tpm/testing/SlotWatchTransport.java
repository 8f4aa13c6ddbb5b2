package io.github.keylimeattestor.tpm.testing;

import io.github.keylimeattestor.tpm.transport.TpmTransport;
import java.io.IOException;
import java.util.HexFormat;

/**
 * Test transport: after every command asks the TPM how many transient objects are loaded
 * (TPM2_GetCapability(TPM_CAP_HANDLES, 0x80000000)) and keeps the maximum; can also fail the
 * n-th command before it reaches the TPM.
 */
public final class SlotWatchTransport implements TpmTransport {
  private static final byte[] GET_TRANSIENT = HexFormat.of().parseHex(
      "8001" + "00000016" + "0000017a" + "00000001" + "80000000" + "00000100");
  private final TpmTransport delegate;
  private final boolean watch;
  private int max;
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

  public int maxTransient() {
    return max;
  }

  public int transientNow() throws IOException {
    byte[] r = delegate.transmit(GET_TRANSIENT);
    // header(10) moreData(1) capability(4) count(4)
    return ((r[15] & 0xFF) << 24) | ((r[16] & 0xFF) << 16) | ((r[17] & 0xFF) << 8) | (r[18] & 0xFF);
  }

  @Override
  public byte[] transmit(byte[] command) throws IOException {
    commands++;
    if (commands == failAt) {
      failedCommandCode = ((command[6] & 0xFF) << 24) | ((command[7] & 0xFF) << 16)
          | ((command[8] & 0xFF) << 8) | (command[9] & 0xFF);
      if (failWith == null) {
        throw new IOException("injected transport failure");
      }
      return failWith.clone();
    }
    byte[] response = delegate.transmit(command);
    if (watch) {
      max = Math.max(max, transientNow());
    }
    return response;
  }
}
