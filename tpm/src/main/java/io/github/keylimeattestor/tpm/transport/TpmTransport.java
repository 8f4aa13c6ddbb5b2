package io.github.keylimeattestor.tpm.transport;

import java.io.Closeable;
import java.io.IOException;

/** Sends one complete TPM command and returns the complete response. */
public interface TpmTransport extends Closeable {
  /** Largest response any transport accepts (swtpm and TPMs use 4096). */
  int MAX_RESPONSE = 16 * 1024;

  byte[] transmit(byte[] command) throws IOException;

  @Override
  default void close() throws IOException {}

  /** Reads a big-endian responseSize from a 10-byte header and checks it. */
  static int responseSize(byte[] header) throws IOException {
    int size = ((header[2] & 0xFF) << 24) | ((header[3] & 0xFF) << 16)
        | ((header[4] & 0xFF) << 8) | (header[5] & 0xFF);
    if (size < 10 || size > MAX_RESPONSE) {
      throw new IOException("TPM response header announces " + Integer.toUnsignedString(size)
          + " bytes (expected 10.." + MAX_RESPONSE + ")");
    }
    return size;
  }
}
