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
import java.util.concurrent.LinkedBlockingQueue;
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

  private static IncrCounterRequest counter(String key) {
    return IncrCounterRequest.newBuilder().addKey(key).setVal(1).build();
  }
}
