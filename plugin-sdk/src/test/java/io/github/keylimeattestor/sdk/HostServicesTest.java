package io.github.keylimeattestor.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Empty;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.IncrCounterRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.MetricsGrpc;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.github.keylimeattestor.proto.goplugin.ConnInfo;
import io.github.keylimeattestor.sdk.internal.BrokerService;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class HostServicesTest {
  @Test
  void metricsAreSentFromTheContextOfAnRpcThatHasEnded() throws Exception {
    LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();
    String name = InProcessServerBuilder.generateName();
    Server host = InProcessServerBuilder.forName(name).directExecutor()
        .addService(new MetricsGrpc.MetricsImplBase() {
          @Override
          public void incrCounter(IncrCounterRequest request, StreamObserver<Empty> response) {
            received.add(String.join(".", request.getKeyList()));
            response.onNext(Empty.getDefaultInstance());
            response.onCompleted();
          }
        }).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    try {
      MetricsGrpc.MetricsStub plain = MetricsGrpc.newStub(channel);
      MetricsGrpc.MetricsStub detached = HostServices.metricsStub(channel);
      // the context of a plugin RPC that has just ended, as SPIRE's attestation stream after the answer
      Context.CancellableContext ended = Context.current().withCancellation();
      ended.cancel(null);
      ended.run(() -> {
        plain.incrCounter(counter("plain"), Observers.ignoring());
        detached.incrCounter(counter("detached"), Observers.ignoring());
      });
      assertThat(received.poll(10, TimeUnit.SECONDS)).isEqualTo("detached");
      // the plain stub's call, made in the cancelled context, never reached the host
      assertThat(received.poll(200, TimeUnit.MILLISECONDS)).isNull();
    } finally {
      channel.shutdownNow();
      host.shutdownNow();
    }
  }

  /** Detached from the caller's context, a metrics call carries a deadline of its own: a silent host holds nothing for long. */
  @Test
  void metricsCallsHaveADeadlineOfTheirOwn() throws Exception {
    LinkedBlockingQueue<Long> deadlines = new LinkedBlockingQueue<>();
    String name = InProcessServerBuilder.generateName();
    Server host = InProcessServerBuilder.forName(name).directExecutor()
        .addService(new MetricsGrpc.MetricsImplBase() {
          @Override
          public void incrCounter(IncrCounterRequest request, StreamObserver<Empty> response) {
            io.grpc.Deadline d = Context.current().getDeadline();
            deadlines.add(d == null ? -1L : d.timeRemaining(TimeUnit.MILLISECONDS));
            // never answers
          }
        }).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    try {
      HostServices.metricsStub(channel).incrCounter(counter("silent"), Observers.ignoring());
      assertThat(deadlines.poll(10, TimeUnit.SECONDS)).isPositive()
          .isLessThanOrEqualTo(TimeUnit.SECONDS.toMillis(HostServices.METRICS_DEADLINE_SECONDS));
    } finally {
      channel.shutdownNow();
      host.shutdownNow();
    }
  }

  @Test
  void afterTheFirstLookupFoundNoAddressLaterOnesDoNotWaitButTakeOneThatCameLate() throws Exception {
    AtomicInteger waits = new AtomicInteger();
    // an address that does not come in time: each timed wait counts, then times out at once
    CompletableFuture<ConnInfo> address = new CompletableFuture<>() {
      @Override
      public ConnInfo get(long timeout, TimeUnit unit) throws TimeoutException {
        waits.incrementAndGet();
        throw new TimeoutException();
      }
    };
    try (Transport transport = new Transport();
        HostServices hs = new HostServices(address, List.of(HostServices.METRICS), transport, 5_000)) {
      assertThat(hs.agentStore()).as("not offered: no lookup").isEmpty();
      assertThat(waits).hasValue(0);
      assertThat(hs.metrics()).isEmpty();
      assertThat(hs.metrics()).isEmpty();
      assertThat(hs.metrics()).isEmpty();
      assertThat(waits).as("only the first lookup waits").hasValue(1);
      address.complete(ConnInfo.newBuilder().setServiceId(1).setNetwork("unix").setAddress("/nonexistent/host.sock").build());
      assertThat(hs.metrics()).as("an address that came late").isPresent();
      assertThat(waits).hasValue(1);
    }
  }

  /** A socket path gRPC cannot make a target of (non-ASCII): host services off, Init not failed. */
  @Test
  void aSocketPathGrpcCannotDialTurnsHostServicesOffInsteadOfFailingInit() throws Exception {
    CompletableFuture<ConnInfo> address = CompletableFuture.completedFuture(ConnInfo.newBuilder().setServiceId(1)
        .setNetwork("unix").setAddress("/tmp/\u00e9t\u00e9/plugin123/host.sock").build());
    try (Transport transport = new Transport();
        HostServices hs = new HostServices(address, List.of(HostServices.METRICS), transport, 5_000)) {
      assertThat(hs.metrics()).isEmpty();
      assertThat(hs.metrics()).isEmpty();
    }
  }

  @Test
  void aBrokerStreamThatEndsBeforeTheAddressTurnsHostServicesOffWithoutWaiting() throws Exception {
    BrokerService broker = new BrokerService(HostServices.HOST_SERVICE_PROVIDER_ID);
    StreamObserver<ConnInfo> stream = broker.startStream(Observers.ignoring());
    stream.onNext(ConnInfo.newBuilder().setServiceId(7).setNetwork("unix").setAddress("/other").build());
    stream.onError(new io.grpc.StatusRuntimeException(io.grpc.Status.CANCELLED));
    try (Transport transport = new Transport();
        HostServices hs = new HostServices(broker.connInfo(), List.of(HostServices.METRICS), transport, 600_000)) {
      ExecutorService one = Executors.newSingleThreadExecutor();
      try {
        // with a 10-minute first wait, an answer within 10 s means the lookup did not wait for an address
        assertThat(one.submit(hs::metrics).get(10, TimeUnit.SECONDS)).isEmpty();
        assertThat(one.submit(hs::metrics).get(10, TimeUnit.SECONDS)).isEmpty();
      } finally {
        one.shutdownNow();
      }
    }
  }

  /** Two threads looking up at once: the second waits with the first instead of finding nothing. */
  @Test
  void aLookupMadeWhileTheFirstOneWaitsWaitsWithIt() throws Exception {
    java.util.concurrent.CountDownLatch bothWaiting = new java.util.concurrent.CountDownLatch(2);
    CompletableFuture<ConnInfo> address = countingWaits(bothWaiting);
    ExecutorService two = Executors.newFixedThreadPool(2);
    try (Transport transport = new Transport();
        HostServices hs = new HostServices(address, List.of(HostServices.METRICS), transport, 600_000)) {
      var first = two.submit(hs::metrics);
      var second = two.submit(hs::metrics);
      assertThat(bothWaiting.await(10, TimeUnit.SECONDS)).as("both lookups wait for the address").isTrue();
      address.complete(ConnInfo.newBuilder().setServiceId(1).setNetwork("unix").setAddress("/nonexistent/h.sock").build());
      assertThat(first.get(10, TimeUnit.SECONDS)).isPresent();
      assertThat(second.get(10, TimeUnit.SECONDS)).isPresent();
    } finally {
      two.shutdownNow();
    }
  }

  /** SPIRE's Shutdown (close) while Init waits for the broker's address: close does not wait for it. */
  @Test
  void closeDuringTheFirstWaitDoesNotWaitAndALateAddressDialsNothing() throws Exception {
    java.util.concurrent.CountDownLatch waiting = new java.util.concurrent.CountDownLatch(1);
    CompletableFuture<ConnInfo> address = countingWaits(waiting);
    ExecutorService one = Executors.newSingleThreadExecutor();
    try (Transport transport = new Transport()) {
      HostServices hs = new HostServices(address, List.of(HostServices.METRICS), transport, 600_000);
      java.util.concurrent.Future<Optional<MetricsGrpc.MetricsStub>> lookup = one.submit(hs::metrics);
      assertThat(waiting.await(10, TimeUnit.SECONDS)).as("the first lookup waits").isTrue();
      // would time out if the 10-minute wait held the lock close takes
      CompletableFuture.runAsync(hs::close).get(10, TimeUnit.SECONDS);
      address.complete(ConnInfo.newBuilder().setServiceId(1).setNetwork("unix").setAddress("/nonexistent/h.sock").build());
      assertThat(lookup.get(10, TimeUnit.SECONDS)).as("closed: no channel dialled").isEmpty();
    } finally {
      one.shutdownNow();
    }
  }

  /** A broker address not sent yet, whose every timed wait for it counts {@code waits} down. */
  private static CompletableFuture<ConnInfo> countingWaits(java.util.concurrent.CountDownLatch waits) {
    return new CompletableFuture<>() {
      @Override
      public ConnInfo get(long timeout, TimeUnit unit)
          throws InterruptedException, java.util.concurrent.ExecutionException, TimeoutException {
        waits.countDown();
        return super.get(timeout, unit);
      }
    };
  }

  private static IncrCounterRequest counter(String key) {
    return IncrCounterRequest.newBuilder().addKey(key).setVal(1).build();
  }
}
