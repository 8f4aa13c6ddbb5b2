package io.github.keylimeattestor.sdk;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A plaintext gRPC channel to a local Unix socket (spire-server's admin API), with its own one-thread
 * event loop, both stopped by {@link #close}. The JDK's Unix-domain channels, as the plugin socket
 * ({@code Transport}): no native library. Callbacks run on the I/O thread, for blocking stubs.
 * Connects on first use.
 */
public final class UnixSocketChannel implements AutoCloseable {
  private final EventLoopGroup loop;
  private final ManagedChannel channel;

  public UnixSocketChannel(Path socket, String threadName) {
    this.loop = new MultiThreadIoEventLoopGroup(1, r -> {
      Thread t = new Thread(r, threadName);
      t.setDaemon(true);
      return t;
    }, NioIoHandler.newFactory());
    this.channel = NettyChannelBuilder.forAddress(UnixDomainSocketAddress.of(socket))
        .channelType(NioDomainSocketChannel.class)
        .eventLoopGroup(loop)
        // Netty warns about SO_KEEPALIVE on every Unix-socket connection unless it is unset.
        .withOption(ChannelOption.SO_KEEPALIVE, null)
        .directExecutor()
        .usePlaintext()
        .build();
  }

  public ManagedChannel channel() {
    return channel;
  }

  @Override
  public void close() {
    channel.shutdownNow();
    loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
  }
}
