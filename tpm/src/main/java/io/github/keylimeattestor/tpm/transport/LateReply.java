package io.github.keylimeattestor.tpm.transport;

import io.github.keylimeattestor.tpm.CommandCode;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The reply to a swtpm command that timed out. swtpm has no resource manager and runs a command
 * whose bytes it has, whether or not the sender still waits, so an object or session that a late
 * CreatePrimary, Load or StartAuthSession makes would stay loaded until swtpm restarts, and a few
 * such would leave no slot for the Keylime agent's AK. A daemon thread keeps the connection, reads
 * the reply and flushes the handle it names.
 */
final class LateReply {
  /** How long a late reply is waited for: well beyond any TPM command, even RSA key generation. */
  static final int WAIT_MILLIS = 5 * 60_000;
  /** At most this many at once (each holds a connection and a thread); beyond, the socket is closed. */
  static final int MAX_WAITING = 4;
  private static final AtomicInteger WAITING = new AtomicInteger();
  private static final System.Logger LOG = System.getLogger(LateReply.class.getName());
  /** The commands this module sends that make a transient handle (CommandCode lists all it sends). */
  private static final Set<Integer> MAKE_A_HANDLE = Set.of(CommandCode.CREATE_PRIMARY, CommandCode.LOAD,
      CommandCode.CONTEXT_LOAD, CommandCode.START_AUTH_SESSION);

  private LateReply() {}

  /** Whether {@code command} makes a transient handle if it succeeds. */
  static boolean makesAHandle(byte[] command) {
    return command.length >= 10 && MAKE_A_HANDLE.contains(ByteBuffer.wrap(command, 6, 4).getInt());
  }

  /** Whether a late reply to another command would find no one to wait for it. */
  static boolean full() {
    return waiting() >= MAX_WAITING;
  }

  /** Late replies being waited for now. */
  static int waiting() {
    return WAITING.get();
  }

  /**
   * Takes {@code s} over: waits for the rest of {@code reply} and flushes what it made. A command that
   * makes no handle is harmless if it runs late: its connection is closed at once, taking no slot.
   */
  static void await(Socket s, SwtpmTransport.ResponseReader reply, byte[] command, SwtpmTransport from) {
    if (!makesAHandle(command)) {
      closeQuietly(s);
      return;
    }
    if (WAITING.incrementAndGet() > MAX_WAITING) {
      WAITING.decrementAndGet();
      closeQuietly(s);
      LOG.log(System.Logger.Level.WARNING, "{0}: too many commands without a reply; not waiting for this one", from);
      return;
    }
    Thread t = new Thread(() -> {
      try {
        int handle;
        try {
          s.setSoTimeout(WAIT_MILLIS);
          handle = handleMade(command, reply.read(s.getInputStream()));
        } finally {
          closeQuietly(s);
        }
        if (handle != 0) {
          from.forLateFlush().transmit(flushContext(handle));
          LOG.log(System.Logger.Level.WARNING, "{0}: a command that timed out ran after all; flushed the handle "
              + "0x{1} it made", from, Integer.toHexString(handle));
        }
      } catch (IOException | RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "{0}: after a command that timed out, its late reply or the flush of "
            + "what it made failed: {1}", from, e.toString());
      } finally {
        closeQuietly(s);
        WAITING.decrementAndGet();
      }
    }, "swtpm-late-reply");
    t.setDaemon(true);
    t.start();
  }

  /** The handle a successful reply to {@code command} names, or 0 if it makes none. */
  static int handleMade(byte[] command, byte[] response) {
    if (!makesAHandle(command) || response.length < 14 || ByteBuffer.wrap(response, 6, 4).getInt() != 0) {
      return 0;
    }
    return ByteBuffer.wrap(response, 10, 4).getInt();
  }

  static byte[] flushContext(int handle) {
    return ByteBuffer.allocate(14).putShort((short) 0x8001).putInt(14).putInt(CommandCode.FLUSH_CONTEXT)
        .putInt(handle).array();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // nothing to do
    }
  }
}
