package io.github.keylimeattestor.tpm.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The kernel TPM character device ({@code /dev/tpmrm0}, or {@code /dev/tpm0} without the resource
 * manager): one complete command per write(), the response via read(). With {@code /dev/tpmrm0}
 * the kernel gives this open file its own transient handles and flushes them when it is closed.
 */
public final class DeviceTransport implements TpmTransport {
  private final Path path;
  private final FileChannel channel;

  public DeviceTransport(Path path) throws IOException {
    this.path = path;
    this.channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  /** {@code /dev/tpmrm0} if present, else {@code /dev/tpm0}. */
  public static DeviceTransport openDefault() throws IOException {
    Path rm = Path.of("/dev/tpmrm0");
    return new DeviceTransport(Files.exists(rm) ? rm : Path.of("/dev/tpm0"));
  }

  @Override
  public synchronized byte[] transmit(byte[] command) throws IOException {
    ByteBuffer out = ByteBuffer.wrap(command);
    int written = channel.write(out);
    if (written != command.length) {
      throw new IOException(path + " accepted " + written + " of " + command.length + " command bytes");
    }
    ByteBuffer in = ByteBuffer.allocate(MAX_RESPONSE);
    while (in.position() < 10) {
      if (channel.read(in) < 0) {
        throw new IOException(path + " closed before a response header");
      }
    }
    byte[] header = new byte[10];
    in.duplicate().flip().get(header);
    int size = TpmTransport.responseSize(header);
    while (in.position() < size) {
      if (channel.read(in) < 0) {
        throw new IOException(path + " closed mid-response");
      }
    }
    if (in.position() != size) {
      throw new IOException(path + " returned " + in.position() + " bytes for a " + size + "-byte response");
    }
    byte[] response = new byte[size];
    in.flip().get(response);
    return response;
  }

  @Override
  public synchronized void close() throws IOException {
    channel.close();
  }

  @Override
  public String toString() {
    return path.toString();
  }
}
