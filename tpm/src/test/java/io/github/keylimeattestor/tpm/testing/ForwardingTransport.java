package io.github.keylimeattestor.tpm.testing;

import io.github.keylimeattestor.tpm.transport.TpmTransport;
import java.io.IOException;
import java.nio.ByteBuffer;

/** Passes every command to a real transport; tests override {@link #transmit} to change what it answers. */
public abstract class ForwardingTransport implements TpmTransport {
  private final TpmTransport real;

  protected ForwardingTransport(TpmTransport real) {
    this.real = real;
  }

  @Override
  public byte[] transmit(byte[] command) throws IOException {
    return real.transmit(command);
  }

  @Override
  public void close() throws IOException {
    real.close();
  }

  /** The command code of a marshalled command. */
  protected static int commandCode(byte[] command) {
    return ByteBuffer.wrap(command, 6, 4).getInt();
  }
}
