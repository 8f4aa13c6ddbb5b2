package io.github.keylimeattestor.tpm.transport;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.List;
import org.freedesktop.dbus.FileDescriptor;
import org.freedesktop.dbus.connections.impl.DBusConnection;
import org.freedesktop.dbus.connections.impl.DBusConnectionBuilder;
import org.freedesktop.dbus.exceptions.DBusException;
import org.freedesktop.dbus.exceptions.DBusExecutionException;
import org.freedesktop.dbus.messages.Error;
import org.freedesktop.dbus.messages.Message;
import org.freedesktop.dbus.messages.MethodCall;
import org.freedesktop.dbus.messages.MethodReturn;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * tpm2-abrmd, reached as libtss2's {@code tabrmd} TCTI reaches it: one D-Bus call
 * {@code com.intel.tss2.TctiTabrmd.CreateConnection} on {@code /com/intel/tss2/Tabrmd/Tcti} returns a
 * connection id (body {@code t}) and, out of band in the message's unix-fd list, one end of a
 * socketpair. TPM commands go over that socket as raw bytes; each response arrives as a raw TPM
 * response (10-byte header with its size, then the rest, possibly in several reads). The daemon
 * virtualizes transient handles per connection and flushes them when the socket closes.
 *
 * <p>The D-Bus connection is closed once the socket is in hand (Cancel / SetLocality are not used).
 */
public final class TabrmdTransport implements TpmTransport {
  public static final String DEFAULT_BUS_NAME = "com.intel.tss2.Tabrmd";
  static final String OBJECT_PATH = "/com/intel/tss2/Tabrmd/Tcti";
  static final String INTERFACE = "com.intel.tss2.TctiTabrmd";
  static final String SESSION_ADDRESS_VARIABLE = "DBUS_SESSION_BUS_ADDRESS";
  static final String SYSTEM_BUS_SOCKET = "/var/run/dbus/system_bus_socket";

  /** Which message bus: tpm2-abrmd's default is the system bus. */
  public enum BusType {
    SYSTEM,
    SESSION
  }

  private final String description;
  private final AFUNIXSocket socket;
  private final DataInputStream in;
  private final OutputStream out;

  private TabrmdTransport(String description, AFUNIXSocket socket) throws IOException {
    this.description = description;
    this.socket = socket;
    this.in = new DataInputStream(socket.getInputStream());
    this.out = socket.getOutputStream();
  }

  /**
   * Asks tpm2-abrmd for a connection. The bus address is the D-Bus default: for the session bus the
   * system property or environment variable {@code DBUS_SESSION_BUS_ADDRESS}; for the system bus
   * {@code DBUS_SYSTEM_BUS_ADDRESS}, else {@code unix:path=/var/run/dbus/system_bus_socket}.
   */
  public static TabrmdTransport connect(String busName, BusType busType, int timeoutMillis) throws IOException {
    return connect(null, busType, busName, timeoutMillis);
  }

  /** Like {@link #connect(String, BusType, int)} on the bus at {@code dbusAddress} (e.g. {@code unix:path=...}). */
  public static TabrmdTransport connect(String dbusAddress, String busName, int timeoutMillis) throws IOException {
    return connect(dbusAddress, BusType.SESSION, busName, timeoutMillis);
  }

  private static TabrmdTransport connect(String dbusAddress, BusType busType, String busName, int timeoutMillis)
      throws IOException {
    String where = "tpm2-abrmd " + busName + " on the " + (dbusAddress != null ? "bus " + dbusAddress
        : busType.name().toLowerCase(java.util.Locale.ROOT) + " bus");
    String address;
    try {
      address = address(dbusAddress, busType);
    } catch (IOException e) {
      throw new IOException("cannot reach " + where + ": " + e.getMessage(), e);
    }
    AFUNIXSocket s;
    try (DBusConnection bus = bus(address, busType, timeoutMillis)) {
      MethodCall call = bus.getMessageFactory().createMethodCall(busName, OBJECT_PATH, INTERFACE,
          "CreateConnection", (byte) 0, null);
      bus.sendMessage(call);
      int fd = receivedSocket(where, call.getReply(timeoutMillis));
      try {
        // dbus-java closes the received descriptor with the bus connection: keep a duplicate
        s = FileDescriptorCast.duplicating(FileDescriptorCast.unsafeUsing(fd).getFileDescriptor())
            .as(AFUNIXSocket.class);
        s.setSoTimeout(timeoutMillis);
      } catch (IOException e) {
        throw new IOException(where + " passed a file descriptor that is not a usable Unix socket: "
            + e.getMessage(), e);
      }
    } catch (DBusException | DBusExecutionException e) {
      throw new IOException("cannot reach " + where + ": " + e.getMessage(), e);
    }
    return new TabrmdTransport(where, s);
  }

  /**
   * The bus address: explicit, else as D-Bus clients find it (session: system property, then
   * environment variable DBUS_SESSION_BUS_ADDRESS; system: DBUS_SYSTEM_BUS_ADDRESS, else the
   * well-known socket). A unix:path= socket that does not exist fails at once, not after a timeout.
   */
  static String address(String dbusAddress, BusType busType) throws IOException {
    String a = dbusAddress;
    if (a == null && busType == BusType.SESSION) {
      a = System.getProperty(SESSION_ADDRESS_VARIABLE, System.getenv(SESSION_ADDRESS_VARIABLE));
      if (a == null || a.isBlank()) {
        throw new IOException("no D-Bus session bus: " + SESSION_ADDRESS_VARIABLE + " is not set");
      }
    } else if (a == null) {
      a = System.getenv("DBUS_SYSTEM_BUS_ADDRESS");
      if (a == null || a.isBlank()) {
        a = "unix:path=" + SYSTEM_BUS_SOCKET;
      }
    }
    if (a.startsWith("unix:path=")) {
      String path = a.substring("unix:path=".length()).split(",", 2)[0];
      if (!java.nio.file.Files.exists(java.nio.file.Path.of(path))) {
        throw new IOException("no D-Bus daemon listens at " + path + " (is dbus running?)");
      }
    }
    return a;
  }

  /**
   * Builds D-Bus connections, one at a time. dbus-java's login (SASL) reads the bus without a
   * timeout, so a daemon that accepts and then says nothing would hold the caller, and the plugin's
   * TPM lock with it, for good: the login runs here and the caller waits for it at most its timeout.
   * A login that never ends holds this one thread; later ones time out behind it.
   */
  private static final java.util.concurrent.ExecutorService LOGINS = java.util.concurrent.Executors
      .newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "tabrmd-dbus-login");
        t.setDaemon(true);
        return t;
      });

  private static DBusConnection bus(String dbusAddress, BusType busType, int timeoutMillis)
      throws IOException, DBusException {
    String address = address(dbusAddress, busType);
    java.util.concurrent.CompletableFuture<DBusConnection> login = java.util.concurrent.CompletableFuture.supplyAsync(
        () -> {
          try {
            return DBusConnectionBuilder.forAddress(address).withShared(false)
                .transportConfig().withTimeout(timeoutMillis).back().build();
          } catch (DBusException e) {
            throw new java.util.concurrent.CompletionException(e);
          }
        }, LOGINS);
    try {
      return login.get(timeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException | InterruptedException e) {
      // a login that ends after all is closed then: nobody holds it
      login.whenComplete((bus, failed) -> closeQuietly(bus));
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while logging in to the D-Bus daemon at " + address);
      }
      throw new IOException("the D-Bus daemon at " + address + " did not complete the login within "
          + timeoutMillis + "ms: is dbus-daemon (or dbus-broker) stuck or overloaded?");
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof DBusException d) {
        throw d;
      }
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException("cannot log in to the D-Bus daemon at " + address + ": " + cause, cause);
    }
  }

  private static void closeQuietly(DBusConnection bus) {
    if (bus != null) {
      try {
        bus.close();
      } catch (IOException | RuntimeException e) {
        // a connection nobody uses
      }
    }
  }

  /** True if {@code busName} is owned on that bus; false also when the bus cannot be reached. */
  public static boolean nameHasOwner(String busName, BusType busType, int timeoutMillis) {
    return nameHasOwner(null, busType, busName, timeoutMillis);
  }

  /** True if {@code busName} is owned on the bus at {@code dbusAddress}; false also when it cannot be reached. */
  public static boolean nameHasOwner(String dbusAddress, String busName, int timeoutMillis) {
    return nameHasOwner(dbusAddress, BusType.SESSION, busName, timeoutMillis);
  }

  private static boolean nameHasOwner(String dbusAddress, BusType busType, String busName, int timeoutMillis) {
    try (DBusConnection bus = bus(dbusAddress, busType, timeoutMillis)) {
      MethodCall call = bus.getMessageFactory().createMethodCall("org.freedesktop.DBus", "/org/freedesktop/DBus",
          "org.freedesktop.DBus", "NameHasOwner", (byte) 0, "s", busName);
      bus.sendMessage(call);
      Message reply = call.getReply(timeoutMillis);
      return reply instanceof MethodReturn && Boolean.TRUE.equals(reply.getParameters()[0]);
    } catch (DBusException | IOException | RuntimeException e) {
      return false;
    }
  }

  private static int receivedSocket(String where, Message reply) throws IOException, DBusException {
    if (reply == null) {
      throw new IOException(where + " did not answer CreateConnection in time");
    }
    if (reply instanceof Error err) {
      if (err.getName().endsWith(".ServiceUnknown") || err.getName().endsWith(".NameHasNoOwner")) {
        throw new IOException(where + " is not running (nobody owns that name on the bus): start tpm2-abrmd, "
            + "or check tcti");
      }
      throw new IOException(where + " refused CreateConnection: " + err.getName() + ": "
          + err.getException().getMessage());
    }
    if (!(reply instanceof MethodReturn)) {
      throw new IOException(where + " answered CreateConnection with an unexpected message " + reply);
    }
    List<FileDescriptor> fds = reply.getFiledescriptors();
    if (fds == null || fds.size() != 1) {
      throw new IOException(where + " returned " + (fds == null ? 0 : fds.size()) + " file descriptors from "
          + "CreateConnection (expected 1): the D-Bus connection must pass unix fds (junixsocket transport)");
    }
    return fds.get(0).getIntFileDescriptor();
  }

  @Override
  public synchronized byte[] transmit(byte[] command) throws IOException {
    if (command.length < 10) {
      throw new IllegalArgumentException("a TPM command is at least 10 bytes");
    }
    try {
      out.write(command);
      out.flush();
      byte[] header = new byte[10];
      in.readFully(header);
      int size = TpmTransport.responseSize(header);
      byte[] response = new byte[size];
      System.arraycopy(header, 0, response, 0, 10);
      in.readFully(response, 10, size - 10);
      return response;
    } catch (java.net.SocketTimeoutException e) {
      // a late response would be taken for the next command's: this connection is spent
      closeSocket();
      throw new InterruptedIOException(description + " did not answer in time");
    } catch (IOException e) {
      closeSocket();
      throw new IOException(description + ": " + e.getMessage(), e);
    }
  }

  /**
   * Closes the socket and its descriptor: a junixsocket socket made from a descriptor shuts it down
   * on close() but leaves the descriptor open (seen with junixsocket 2.10), which would leak one per use.
   */
  private void closeSocket() throws IOException {
    java.io.FileDescriptor fd = socket.getFileDescriptor();
    try {
      socket.close();
    } finally {
      if (fd.valid()) {
        new java.io.FileOutputStream(fd).close();
      }
    }
  }

  @Override
  public synchronized void close() throws IOException {
    closeSocket();
  }

  @Override
  public String toString() {
    return description;
  }
}
