package io.github.keylimeattestor.it.testattestor;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.Challenge;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.NodeAttestorGrpc;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.PayloadOrChallengeResponse;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.sdk.Observers;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;

final class TestAgentPlugin extends NodeAttestorGrpc.NodeAttestorImplBase implements Plugin {
  private final Log log = Log.named("test_attestor.agent");
  private volatile TestConfig config;

  @Override
  public String name() {
    return "test_attestor";
  }

  @Override
  public ServerServiceDefinition nodeAttestor() {
    return bindService();
  }

  @Override
  public void configure(CoreConfiguration core, String hcl) throws StatusException {
    config = TestConfig.parse(core.getTrustDomain(), hcl, log);
  }

  @Override
  public Validation validate(CoreConfiguration core, String hcl) {
    return TestConfig.validate(core.getTrustDomain(), hcl, log);
  }

  @Override
  public StreamObserver<Challenge> aidAttestation(StreamObserver<PayloadOrChallengeResponse> out) {
    TestConfig c = config;
    if (c == null) {
      out.onError(Status.FAILED_PRECONDITION.withDescription("not configured").asException());
      return Observers.ignoring();
    }
    log.debug("sending attestation payload", "node", c.nodeName());
    out.onNext(PayloadOrChallengeResponse.newBuilder()
        .setPayload(ByteString.copyFrom(c.nodeName(), StandardCharsets.UTF_8)).build());
    return new StreamObserver<>() {
      @Override
      public void onNext(Challenge challenge) {
        byte[] mac = Hmac.sha256(c.secret(), challenge.getChallenge().toByteArray());
        out.onNext(PayloadOrChallengeResponse.newBuilder().setChallengeResponse(ByteString.copyFrom(mac)).build());
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        out.onCompleted();
      }
    };
  }
}
