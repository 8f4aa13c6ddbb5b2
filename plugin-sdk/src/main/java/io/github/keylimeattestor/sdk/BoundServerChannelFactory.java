package io.github.keylimeattestor.sdk;

import io.github.keylimeattestor.sdk.log.Log;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelMetadata;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.ServerChannel;
import io.netty.channel.ServerChannelRecvByteBufAllocator;
import io.netty.channel.nio.AbstractNioMessageChannel;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The gRPC server's Netty channel over the Unix-domain socket that PluginMain bound and listens on
 * before it prints the handshake line; one channel, for the server's one bind. Netty's own
 * NioServerDomainSocketChannel cannot take it: it binds again at the server's bind, which the JDK
 * refuses for a bound socket. This channel's bind only checks the address and makes it active, so
 * Netty's order is kept (the accept handler is in place, then the channel is active and accepts), and
 * connections made before that wait in the socket's backlog.
 */
final class BoundServerChannelFactory implements ChannelFactory<ServerChannel> {
  private final AtomicReference<ServerSocketChannel> unused;

  BoundServerChannelFactory(ServerSocketChannel listening) {
    this.unused = new AtomicReference<>(listening);
  }

  @Override
  public ServerChannel newChannel() {
    ServerSocketChannel listening = unused.getAndSet(null);
    if (listening == null) {
      throw new IllegalStateException("the plugin socket serves one gRPC server");
    }
    return new Channel(listening);
  }

  private static final class Channel extends AbstractNioMessageChannel implements ServerChannel {
    private static final ChannelMetadata METADATA = new ChannelMetadata(false, 16);
    private static final Log LOG = Log.named("pluginmain");
    /**
     * As a server channel's config: accepts until no connection is pending (the server allocator), and
     * when the accept handler turns auto-read off after a failed accept (out of file descriptors) the
     * pending read is cleared, so the selector stops firing for the connection still queued.
     */
    private final ChannelConfig config = new DefaultChannelConfig(this, new ServerChannelRecvByteBufAllocator()) {
      @Override
      protected void autoReadCleared() {
        clearReadPending();
      }
    };
    private volatile boolean bound;

    Channel(ServerSocketChannel listening) {
      super(null, listening, SelectionKey.OP_ACCEPT);
    }

    @Override
    protected ServerSocketChannel javaChannel() {
      return (ServerSocketChannel) super.javaChannel();
    }

    @Override
    public ChannelConfig config() {
      return config;
    }

    @Override
    public ChannelMetadata metadata() {
      return METADATA;
    }

    @Override
    public boolean isActive() {
      return bound && isOpen();
    }

    @Override
    protected void doBind(SocketAddress local) throws IOException {
      SocketAddress has = javaChannel().getLocalAddress();
      if (!local.equals(has)) {
        throw new IOException("the plugin socket listens on " + has + ", not on " + local);
      }
      bound = true;
    }

    @Override
    protected int doReadMessages(List<Object> buf) throws IOException {
      SocketChannel accepted = javaChannel().accept();
      if (accepted == null) {
        return 0;
      }
      try {
        buf.add(new NioDomainSocketChannel(this, accepted));
        return 1;
      } catch (RuntimeException e) {
        // one connection that cannot be set up must not close the listener (any error but an
        // IOException here would): the host would then wait for a server that no longer accepts
        LOG.warn("could not set up an accepted connection", "error", e);
        accepted.close();
        return 0;
      }
    }

    @Override
    protected void doClose() throws Exception {
      super.doClose();
      javaChannel().close();
    }

    @Override
    protected SocketAddress localAddress0() {
      try {
        return javaChannel().getLocalAddress();
      } catch (IOException e) {
        return null;
      }
    }

    @Override
    protected SocketAddress remoteAddress0() {
      return null;
    }

    @Override
    protected boolean doConnect(SocketAddress remote, SocketAddress local) {
      throw new UnsupportedOperationException("a server channel does not connect");
    }

    @Override
    protected void doFinishConnect() {
      throw new UnsupportedOperationException("a server channel does not connect");
    }

    @Override
    protected void doDisconnect() {
      throw new UnsupportedOperationException("a server channel does not disconnect");
    }

    @Override
    protected boolean doWriteMessage(Object msg, ChannelOutboundBuffer in) {
      throw new UnsupportedOperationException("a server channel does not write");
    }
  }
}
