package io.github.keylimeattestor.server;

import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestRequest;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestResponse;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.NodeAttestorGrpc;
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
 * Server-side NodeAttestor "keylime". The SovereignAttestation verification is not wired in yet
 * (issue 5): the plugin loads, configures and refuses every attestation (fail closed).
 */
final class KeylimeServerPlugin extends NodeAttestorGrpc.NodeAttestorImplBase implements Plugin {
  private final Log log = Log.named("keylime.server");
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
  public StreamObserver<AttestRequest> attest(StreamObserver<AttestResponse> out) {
    out.onError(Status.FAILED_PRECONDITION
        .withDescription(config == null ? "not configured" : "keylime attestation is not implemented in this build")
        .asException());
    return new StreamObserver<>() {
      @Override
      public void onNext(AttestRequest value) {}

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }
}
