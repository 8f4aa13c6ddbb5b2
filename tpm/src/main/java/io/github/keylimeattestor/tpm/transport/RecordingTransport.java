package io.github.keylimeattestor.tpm.transport;

import java.io.IOException;
import java.util.HexFormat;

/** Passes commands to another transport and records the exchanges in {@link ReplayTransport}'s format. */
public final class RecordingTransport implements TpmTransport {
  private final TpmTransport delegate;
  private final StringBuilder trace = new StringBuilder();

  public RecordingTransport(TpmTransport delegate) {
    this.delegate = delegate;
  }

  @Override
  public synchronized byte[] transmit(byte[] command) throws IOException {
    byte[] response = delegate.transmit(command);
    HexFormat hex = HexFormat.of();
    trace.append("> ").append(hex.formatHex(command)).append('\n');
    trace.append("< ").append(hex.formatHex(response)).append('\n');
    return response;
  }

  /** Adds a comment line to the trace. */
  public synchronized void comment(String text) {
    trace.append("# ").append(text).append('\n');
  }

  public synchronized String trace() {
    return trace.toString();
  }

  @Override
  public void close() throws IOException {
    delegate.close();
  }
}
