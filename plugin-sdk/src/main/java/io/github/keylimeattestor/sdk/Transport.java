package io.github.keylimeattestor.sdk;

import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * gRPC over Unix domain sockets, shared by the plugin server and host-service clients. The JDK's own
 * Unix-domain channels (Netty NIO): Netty's epoll transport would first copy its native library out
 * of the jar and load it, which is a fifth of the time to the handshake. One I/O thread: a plugin
 * has one host connection and moves a few small messages per attestation.
 */
final class Transport implements AutoCloseable {
  private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, daemon("plugin-io"), NioIoHandler.newFactory());
  private final ExecutorService executor = Executors.newCachedThreadPool(daemon("plugin-rpc"));

  /** Serves on {@code listening}, a bound Unix-domain channel, which the server owns from here on. */
  Server serve(ServerSocketChannel listening, List<ServerServiceDefinition> services, List<BindableService> bindables)
      throws IOException {
    NettyServerBuilder b = NettyServerBuilder.forAddress(listening.getLocalAddress())
        .channelFactory(new BoundServerChannelFactory(listening))
        .bossEventLoopGroup(loop)
        .workerEventLoopGroup(loop)
        .executor(executor)
        // Netty warns about SO_KEEPALIVE on every Unix-socket connection unless it is unset.
        .withChildOption(ChannelOption.SO_KEEPALIVE, null)
        // grpc-java checks a message's declared length before buffering its body, so anything larger is
        // refused (RESOURCE_EXHAUSTED) without taking memory from the attestations in flight.
        .maxInboundMessageSize(PluginMain.MAX_INBOUND_MESSAGE_BYTES)
        // ... and at most this many streams buffer a message at once; more wait in the host's client
        // (the plugin's service has a limit of its own below this one: CallLimit).
        .maxConcurrentCallsPerConnection(PluginMain.MAX_CONCURRENT_STREAMS + PluginMain.CONTROL_STREAMS);
    services.forEach(b::addService);
    bindables.forEach(b::addService);
    return b.build().start();
  }

  /**
   * A channel to the host's services. Its callbacks run on the I/O thread (directExecutor): the only
   * asynchronous calls are fire-and-forget metrics whose observers do nothing (blocking stubs wait on
   * their own threads), so a hop to the executor per metric (six per server attestation, three per
   * agent one) buys nothing. No retry buffering either: a lost metric is not worth a copy of each.
   */
  ManagedChannel dial(String socketPath) {
    return NettyChannelBuilder.forAddress(UnixDomainSocketAddress.of(socketPath))
        .channelType(NioDomainSocketChannel.class)
        .eventLoopGroup(loop)
        .directExecutor()
        .disableRetry()
        .withOption(ChannelOption.SO_KEEPALIVE, null)
        .usePlaintext()
        .build();
  }

  @Override
  public void close() {
    executor.shutdownNow();
    loop.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private static ThreadFactory daemon(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
