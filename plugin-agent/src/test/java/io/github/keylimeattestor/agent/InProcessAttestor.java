package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.proto.spire.agent.nodeattestor.Challenge;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.NodeAttestorGrpc;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.PayloadOrChallengeResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import com.google.protobuf.ByteString;

/** Plays SPIRE's side of AidAttestation against the plugin's NodeAttestor service, in-process. */
final class InProcessAttestor implements AutoCloseable {
  private final Server server;
  private final ManagedChannel channel;

  /** What one stream produced: the payload, the challenge response, or the error that ended it. */
  record Result(byte[] payload, byte[] response, Status error) {}

  InProcessAttestor(ServerServiceDefinition service) throws IOException {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).addService(service).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  Result attest(Function<byte[], byte[]> challengeFor) throws InterruptedException {
    BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    StreamObserver<Challenge> requests = NodeAttestorGrpc.newStub(channel).aidAttestation(new StreamObserver<>() {
      @Override
      public void onNext(PayloadOrChallengeResponse value) {
        events.add(value);
      }

      @Override
      public void onError(Throwable t) {
        events.add(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        events.add("completed");
      }
    });
    Object first = next(events);
    if (first instanceof Status s) {
      return new Result(null, null, s);
    }
    PayloadOrChallengeResponse p = (PayloadOrChallengeResponse) first;
    if (!p.hasPayload()) {
      throw new AssertionError("the plugin must send the payload first, got " + p);
    }
    byte[] payload = p.getPayload().toByteArray();
    requests.onNext(Challenge.newBuilder().setChallenge(ByteString.copyFrom(challengeFor.apply(payload))).build());
    Object second = next(events);
    if (second instanceof Status s) {
      return new Result(payload, null, s);
    }
    PayloadOrChallengeResponse r = (PayloadOrChallengeResponse) second;
    if (!r.hasChallengeResponse()) {
      throw new AssertionError("expected a challenge response, got " + r);
    }
    requests.onCompleted();
    Object third = next(events);
    if (!"completed".equals(third)) {
      throw new AssertionError("expected the plugin to complete the stream, got " + third);
    }
    return new Result(payload, r.getChallengeResponse().toByteArray(), null);
  }

  private static Object next(BlockingQueue<Object> events) throws InterruptedException {
    Object o = events.poll(60, TimeUnit.SECONDS);
    if (o == null) {
      throw new AssertionError("no answer from the plugin within 60 s");
    }
    return o;
  }

  @Override
  public void close() {
    try {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
