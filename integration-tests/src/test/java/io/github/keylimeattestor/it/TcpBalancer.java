package io.github.keylimeattestor.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A TCP proxy on 127.0.0.1 that sends each new connection to one of its backends picked at random (a seeded
 * random, so that one node's consecutive connections land on either server), as a plain L4 load balancer without
 * health checks would. A connection sent to a backend that is down is closed at once: the client sees the server
 * unavailable and retries, and spire-agent's next dial may reach the other server. Bytes are copied unchanged
 * (SPIRE's mTLS runs end to end).
 */
final class TcpBalancer implements AutoCloseable {
  private final ServerSocket listener;
  private final List<Integer> backends;
  private final Random random = new Random(17);
  /** Per backend: connections sent, connections refused by the backend. */
  final AtomicLongArray sent;
  final AtomicLongArray refused;
  private final Thread acceptor;

  TcpBalancer(List<Integer> backendPorts) throws IOException {
    this.backends = List.copyOf(backendPorts);
    this.sent = new AtomicLongArray(backends.size());
    this.refused = new AtomicLongArray(backends.size());
    this.listener = new ServerSocket(0, 512, InetAddress.getLoopbackAddress());
    this.acceptor = new Thread(this::acceptLoop, "fleet-proxy-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return listener.getLocalPort();
  }

  private void acceptLoop() {
    while (!listener.isClosed()) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return; // closed
      }
      int b;
      synchronized (random) {
        b = random.nextInt(backends.size());
      }
      sent.incrementAndGet(b);
      Socket server = new Socket();
      try {
        server.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), backends.get(b)), 2000);
      } catch (IOException e) {
        refused.incrementAndGet(b);
        closeQuietly(client);
        closeQuietly(server);
        continue;
      }
      pump(client, server);
      pump(server, client);
    }
  }

  private static void pump(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[16 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        for (int n; (n = in.read(buf)) >= 0; ) {
          out.write(buf, 0, n);
        }
      } catch (IOException e) {
        // either side went away
      } finally {
        closeQuietly(from);
        closeQuietly(to);
      }
    }, "fleet-proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
  }
}
