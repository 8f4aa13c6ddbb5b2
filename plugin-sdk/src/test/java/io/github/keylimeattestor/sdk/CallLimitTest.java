package io.github.keylimeattestor.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The plugin service's own call limit, under the connection's stream limit: streams that hold every
 * slot of the plugin's service are refused beyond it at once, other services (SPIRE's control calls)
 * still answer, and a slot freed is a slot taken again. In-process gRPC: the limit is the plugin's.
 */
class CallLimitTest {
  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  static MethodDescriptor<byte[], byte[]> method(String service, MethodDescriptor.MethodType type) {
    return MethodDescriptor.<byte[], byte[]>newBuilder().setType(type)
        .setFullMethodName(MethodDescriptor.generateFullMethodName(service, "Call"))
        .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
  }

  static final MethodDescriptor<byte[], byte[]> ATTEST = method("test.Plugin", MethodDescriptor.MethodType.BIDI_STREAMING);
  static final MethodDescriptor<byte[], byte[]> CONTROL = method("test.Control", MethodDescriptor.MethodType.UNARY);

  /** Streams the plugin holds open until the client ends them, as attestations waiting for an answer. */
  final List<StreamObserver<byte[]>> held = new ArrayList<>();
  Server server;
  ManagedChannel channel;

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  /** Starts a bidi stream; the future ends with its status. */
  CompletableFuture<Status> open() {
    CompletableFuture<Status> ended = new CompletableFuture<>();
    ClientCall<byte[], byte[]> call = channel.newCall(ATTEST, CallOptions.DEFAULT);
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onClose(Status status, Metadata trailers) {
        ended.complete(status);
      }
    }, new Metadata());
    call.request(1);
    return ended;
  }

  @Test
  void callsBeyondTheLimitAreRefusedAtOnceAndControlCallsStillAnswer() throws Exception {
    CallLimit limit = new CallLimit(3, "test");
    ServerServiceDefinition plugin = ServerServiceDefinition.builder("test.Plugin")
        .addMethod(ATTEST, ServerCalls.asyncBidiStreamingCall(out -> {
          synchronized (held) {
            held.add(out);
          }
          return new StreamObserver<byte[]>() {
            @Override
            public void onNext(byte[] value) {}

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {
              out.onCompleted();
            }
          };
        })).build();
    ServerServiceDefinition control = ServerServiceDefinition.builder("test.Control")
        .addMethod(CONTROL, ServerCalls.asyncUnaryCall((req, out) -> {
          out.onNext(req);
          out.onCompleted();
        })).build();
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).addService(ServerInterceptors.intercept(plugin, limit))
        .addService(control).build().start();
    channel = InProcessChannelBuilder.forName(name).build();

    List<CompletableFuture<Status>> admitted = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      admitted.add(open());
    }
    awaitHeld(3);
    Status refused = open().get(5, TimeUnit.SECONDS);
    assertThat(refused.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(refused.getDescription()).contains("serving 3 calls at once");
    assertThat(admitted).noneMatch(CompletableFuture::isDone);
    // a control call is answered while every slot of the plugin's service is held
    byte[] echoed = io.grpc.stub.ClientCalls.blockingUnaryCall(channel, CONTROL,
        CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), new byte[] {7});
    assertThat(echoed).containsExactly(7);
    // one stream ends: its slot is taken again, not lost
    synchronized (held) {
      held.get(0).onCompleted();
    }
    Object first = CompletableFuture.anyOf(admitted.toArray(new CompletableFuture<?>[0])).get(5, TimeUnit.SECONDS);
    assertThat(((Status) first).isOk()).isTrue();
    awaitActive(limit, 2);
    CompletableFuture<Status> again = open();
    awaitHeld(4);
    assertThat(again).isNotDone();
    assertThat(limit.active()).isEqualTo(3);
    // a stream the client cancels frees its slot too
    channel.shutdownNow();
    awaitActive(limit, 0);
  }

  void awaitHeld(int n) throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (true) {
      synchronized (held) {
        if (held.size() >= n) {
          return;
        }
      }
      assertThat(System.nanoTime()).as("%d streams held", n).isLessThan(until);
      Thread.sleep(5);
    }
  }

  static void awaitActive(CallLimit limit, int n) throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (limit.active() != n) {
      assertThat(System.nanoTime()).as("%d calls active (now %d)", n, limit.active()).isLessThan(until);
      Thread.sleep(5);
    }
  }
}
