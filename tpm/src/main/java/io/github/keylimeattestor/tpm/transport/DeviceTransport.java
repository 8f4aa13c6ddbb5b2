package io.github.keylimeattestor.tpm.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The kernel TPM character device ({@code /dev/tpmrm0}, or {@code /dev/tpm0} without the resource
 * manager): one complete command per write(), the response via read(). With {@code /dev/tpmrm0}
 * the kernel gives this open file its own transient handles and flushes them when it is closed.
 *
 * <p>A file channel has no read timeout. With {@code timeoutMillis}, a command that has not been
 * answered by then has the device closed under it, which wakes a blocked write or read (the JDK
 * signals the blocked thread); the command fails with {@link CommandMayHaveRunException} and the
 * transport stays closed. The kernel bounds a hardware TPM's commands itself; this is for a device
 * served by a program that stopped answering (a vTPM proxy, CUSE), which would otherwise hold the
 * plugin's TPM lock for good.
 */
public final class DeviceTransport implements TpmTransport {
  /**
   * Linux's longest TPM 2.0 command duration (TPM_LONG_LONG, given to TPM2_CreatePrimary and
   * TPM2_Create, which make RSA keys on slow TPMs for tens of seconds): a device deadline is never
   * shorter, so that only a device that is not answering at all is closed.
   */
  public static final int KERNEL_LONGEST_COMMAND_MILLIS = 300_000;

  private final Path path;
  private final FileChannel channel;
  private final int timeoutMillis;
  private volatile boolean closedAfterTimeout;

  /** No timeout: a command waits for the device as long as it takes. */
  public DeviceTransport(Path path) throws IOException {
    this(path, 0);
  }

  /** {@code timeoutMillis} per command; 0 for none. */
  public DeviceTransport(Path path, int timeoutMillis) throws IOException {
    if (timeoutMillis < 0) {
      throw new IllegalArgumentException("timeout must not be negative: " + timeoutMillis);
    }
    this.path = path;
    this.timeoutMillis = timeoutMillis;
    this.channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  /** {@code /dev/tpmrm0} if present, else {@code /dev/tpm0}. */
  public static DeviceTransport openDefault() throws IOException {
    Path rm = Path.of("/dev/tpmrm0");
    return new DeviceTransport(Files.exists(rm) ? rm : Path.of("/dev/tpm0"));
  }

  @Override
  public synchronized byte[] transmit(byte[] command) throws IOException {
    if (closedAfterTimeout) {
      throw new IOException(path + " was closed after a command it did not answer within " + timeoutMillis + " ms");
    }
    AtomicBoolean answered = new AtomicBoolean();
    ScheduledFuture<?> watchdog = timeoutMillis == 0 ? null
        : Watchdog.TIMER.schedule(() -> expire(answered), timeoutMillis, TimeUnit.MILLISECONDS);
    try {
      return exchange(command);
    } catch (ClosedChannelException e) {
      if (closedAfterTimeout) {
        throw new CommandMayHaveRunException(path + " did not answer within " + timeoutMillis + " ms: closed it (the "
            + "kernel's resource manager then flushes what this plugin loaded); is the TPM, or the program serving "
            + "this device, hung?", e);
      }
      throw e;
    } finally {
      answered.set(true);
      if (watchdog != null) {
        watchdog.cancel(false);
      }
    }
  }

  private byte[] exchange(byte[] command) throws IOException {
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

  /**
   * On the watchdog's thread. The close runs on a thread of its own: it waits until the blocked
   * thread has left the kernel, which an uninterruptible driver may never let it do, and the
   * watchdog must stay free for the other transports.
   */
  private void expire(AtomicBoolean answered) {
    if (answered.get()) {
      return;
    }
    closedAfterTimeout = true;
    Thread closer = new Thread(() -> {
      try {
        channel.close();
      } catch (IOException ignored) {
        // the command fails all the same; nothing else to tell
      }
    }, "tpm-device-close");
    closer.setDaemon(true);
    closer.start();
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  @Override
  public String toString() {
    return path.toString();
  }

  /** One daemon thread for every device transport's deadlines, made when the first is needed. */
  private static final class Watchdog {
    static final ScheduledThreadPoolExecutor TIMER = timer();

    private static ScheduledThreadPoolExecutor timer() {
      ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
        Thread th = new Thread(r, "tpm-device-watchdog");
        th.setDaemon(true);
        return th;
      });
      t.setRemoveOnCancelPolicy(true);
      return t;
    }
  }
}
