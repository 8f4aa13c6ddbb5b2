package io.github.keylimeattestor.tpm.transport;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;

/**
 * swtpm's TCP data port ({@code swtpm socket --server type=tcp}): raw TPM 2.0 commands, each sent
 * in a single write with TCP_NODELAY, because swtpm reads a command with one read().
 *
 * <p>By default every command uses a new connection, as libtss2's swtpm TCTI does: swtpm serves
 * one connection at a time, so holding one open would lock out the Keylime agent and tpm2-tools.
 * A transport for one short sequence ({@link Tcti.Spec#openForSequence}) keeps its connection until
 * it is closed: the others' commands wait in swtpm's backlog for that long, and the sequence saves a
 * TCP connection per command (a third of the agent plugin's CPU in its TPM sequences on swtpm).
 */
public final class SwtpmTransport implements TpmTransport {
  private final InetSocketAddress address;
  private final boolean keepConnection;
  private final int timeoutMillis;
  private Socket socket;

  public SwtpmTransport(String host, int port) {
    this(host, port, false, 60_000);
  }

  /**
   * @param keepConnection reuse one connection for all commands (exclusive use of the swtpm)
   * @param timeoutMillis connect and read timeout
   */
  public SwtpmTransport(String host, int port, boolean keepConnection, int timeoutMillis) {
    this.address = new InetSocketAddress(host, port);
    this.keepConnection = keepConnection;
    this.timeoutMillis = timeoutMillis;
  }

  /** Parses a tpm2-tools style TCTI config "swtpm:host=H,port=P" (also "mssim:"). */
  public static SwtpmTransport fromTcti(String tcti) {
    String host = "127.0.0.1";
    int port = 2321;
    int colon = tcti.indexOf(':');
    String kind = colon < 0 ? tcti : tcti.substring(0, colon);
    if (!kind.equals("swtpm") && !kind.equals("mssim")) {
      throw new IllegalArgumentException("not a swtpm TCTI: " + tcti);
    }
    if (colon >= 0) {
      for (String kv : tcti.substring(colon + 1).split(",")) {
        if (kv.startsWith("host=")) {
          host = kv.substring(5);
        } else if (kv.startsWith("port=")) {
          port = Integer.parseInt(kv.substring(5));
        }
      }
    }
    return new SwtpmTransport(host, port);
  }

  @Override
  public synchronized byte[] transmit(byte[] command) throws IOException {
    if (command.length < 10) {
      throw new IllegalArgumentException("a TPM command is at least 10 bytes");
    }
    if (LateReply.makesAHandle(command) && LateReply.full()) {
      // its reply, if it came late, would have no one to flush what it made: a slot lost for good
      throw new IOException(this + " has not answered " + LateReply.MAX_WAITING + " earlier commands yet: not "
          + "sending another that would load an object or session (is swtpm stopped or overloaded?)");
    }
    Socket s = socket != null ? socket : connect();
    socket = null;
    try {
      OutputStream out = s.getOutputStream();
      out.write(command);
      out.flush();
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
    ResponseReader reply = new ResponseReader();
    try {
      byte[] response = reply.read(s.getInputStream());
      if (keepConnection) {
        socket = s;
      } else {
        s.close();
      }
      return response;
    } catch (SocketTimeoutException e) {
      LateReply.await(s, reply, command, this);
      throw new CommandMayHaveRunException(this + " sent no reply within " + timeoutMillis + " ms: the command may"
          + " still run (a handle it makes is flushed when its reply comes)", e);
    } catch (IOException | RuntimeException e) {
      s.close();
      throw new CommandMayHaveRunException(this + " dropped the connection before its reply: " + e.getMessage(), e);
    }
  }

  /** A transport to the same swtpm for the flush after a late reply: one connection, a patient timeout. */
  SwtpmTransport forLateFlush() {
    return new SwtpmTransport(address.getHostString(), address.getPort(), false, Math.max(timeoutMillis, 30_000));
  }

  private Socket connect() throws IOException {
    Socket s = new Socket();
    try {
      s.setTcpNoDelay(true);
      s.setSoTimeout(timeoutMillis);
      s.connect(address, timeoutMillis);
      return s;
    } catch (IOException e) {
      s.close();
      throw new IOException("cannot connect to swtpm at " + address + ": " + e.getMessage(), e);
    }
  }

  /** Reads one response; after a read timeout it can go on where it stopped. */
  static final class ResponseReader {
    private final byte[] header = new byte[10];
    private byte[] response;
    private int got;

    byte[] read(InputStream in) throws IOException {
      while (got < 10) {
        got += readSome(in, header, got, 10 - got);
      }
      if (response == null) {
        response = new byte[TpmTransport.responseSize(header)];
        System.arraycopy(header, 0, response, 0, 10);
      }
      while (got < response.length) {
        got += readSome(in, response, got, response.length - got);
      }
      return response;
    }

    private static int readSome(InputStream in, byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n < 0) {
        throw new EOFException("swtpm closed the connection mid-response");
      }
      return n;
    }
  }

  @Override
  public synchronized void close() throws IOException {
    if (socket != null) {
      socket.close();
      socket = null;
    }
  }

  @Override
  public String toString() {
    return "swtpm " + address.getHostString() + ":" + address.getPort();
  }
}
