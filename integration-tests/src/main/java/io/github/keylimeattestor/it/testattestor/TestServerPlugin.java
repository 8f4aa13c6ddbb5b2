package io.github.keylimeattestor.it.testattestor;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AgentAttributes;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestRequest;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestResponse;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.NodeAttestorGrpc;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Map;

final class TestServerPlugin extends NodeAttestorGrpc.NodeAttestorImplBase implements Plugin {
  private final Log log = Log.named("test_attestor.server");
  private final SecureRandom random = new SecureRandom();
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
  public StreamObserver<AttestRequest> attest(StreamObserver<AttestResponse> out) {
    TestConfig c = config;
    return new StreamObserver<>() {
      private String node;
      private byte[] challenge;

      @Override
      public void onNext(AttestRequest request) {
        try {
          if (c == null) {
            throw Status.FAILED_PRECONDITION.withDescription("not configured").asException();
          }
          if (node == null) {
            node = request.getPayload().toString(StandardCharsets.UTF_8);
            if (!node.matches("[A-Za-z0-9._-]{1,64}")) {
              throw Status.INVALID_ARGUMENT.withDescription("node name in payload is malformed").asException();
            }
            if (!c.allowedNodes().contains(node)) {
              throw Status.PERMISSION_DENIED.withDescription("node " + node + " is not in allowed_nodes").asException();
            }
            challenge = new byte[(int) c.challengeSize()];
            random.nextBytes(challenge);
            out.onNext(AttestResponse.newBuilder().setChallenge(ByteString.copyFrom(challenge)).build());
            return;
          }
          byte[] expected = Hmac.sha256(c.secret(), challenge);
          if (!MessageDigest.isEqual(expected, request.getChallengeResponse().toByteArray())) {
            throw Status.PERMISSION_DENIED.withDescription("challenge response does not verify").asException();
          }
          AgentAttributes.Builder attrs = AgentAttributes.newBuilder()
              .setSpiffeId("spiffe://" + c.trustDomain() + "/spire/agent/test_attestor/" + node)
              .setCanReattest(true)
              .addSelectorValues("node:" + node);
          for (Map.Entry<String, String> e : c.labels().entrySet()) {
            attrs.addSelectorValues("label:" + e.getKey() + ":" + e.getValue());
          }
          log.info("node attested", "node", node);
          out.onNext(AttestResponse.newBuilder().setAgentAttributes(attrs).build());
          out.onCompleted();
        } catch (StatusException e) {
          log.warn("attestation refused", "node", String.valueOf(node), "error", e.getStatus().getDescription());
          out.onError(e);
        }
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }
}
