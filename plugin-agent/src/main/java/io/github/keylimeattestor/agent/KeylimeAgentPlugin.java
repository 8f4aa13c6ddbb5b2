package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.proto.spire.agent.nodeattestor.Challenge;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.NodeAttestorGrpc;
import io.github.keylimeattestor.proto.spire.agent.nodeattestor.PayloadOrChallengeResponse;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.util.List;

/**
 * Agent-side NodeAttestor "keylime". The SovereignAttestation evidence is not wired in yet (issue 5):
 * the plugin loads, configures and refuses attestation with a clear FailedPrecondition.
 */
final class KeylimeAgentPlugin extends NodeAttestorGrpc.NodeAttestorImplBase implements Plugin {
  private final Log log = Log.named("keylime.agent");
  private volatile HclConfig config;

  @Override
  public String name() {
    return "keylime";
  }

  @Override
  public ServerServiceDefinition nodeAttestor() {
    return bindService();
  }

  @Override
  public void configure(CoreConfiguration core, String hcl) throws StatusException {
    try {
      config = HclConfig.parse(hcl);
      log.info("configured", "trust_domain", core.getTrustDomain());
    } catch (HclException e) {
      throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException();
    }
  }

  @Override
  public Validation validate(CoreConfiguration core, String hcl) {
    try {
      HclConfig.parse(hcl);
      return Validation.ok(List.of("the keylime attestation itself is not implemented in this build"));
    } catch (HclException e) {
      return Validation.invalid(e.getMessage());
    }
  }

  @Override
  public StreamObserver<Challenge> aidAttestation(StreamObserver<PayloadOrChallengeResponse> out) {
    out.onError(Status.FAILED_PRECONDITION
        .withDescription(config == null ? "not configured" : "keylime attestation is not implemented in this build")
        .asException());
    return new StreamObserver<>() {
      @Override
      public void onNext(Challenge value) {}

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }
}
