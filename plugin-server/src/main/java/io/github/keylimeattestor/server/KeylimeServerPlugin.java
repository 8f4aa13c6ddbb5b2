package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.RegistrarClient;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestRequest;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestResponse;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.NodeAttestorGrpc;
import io.github.keylimeattestor.sdk.HostServices;
import io.github.keylimeattestor.sdk.Observers;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.sovereign.ClockHistory;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/** Server-side NodeAttestor "keylime": verifies SovereignAttestations against Keylime. */
final class KeylimeServerPlugin extends NodeAttestorGrpc.NodeAttestorImplBase implements Plugin {
  private static final Log LOG = Log.named("keylime.server");

  private final SecureRandom random = new SecureRandom();
  private final EvidenceVerifier evidence = new EvidenceVerifier(new ClockHistory(100_000));
  private final Clock clock;
  private volatile AttestMetrics metrics = new AttestMetrics(Optional.empty());
  private volatile AttestStream.Context context;

  KeylimeServerPlugin() {
    this(Clock.systemUTC());
  }

  KeylimeServerPlugin(Clock clock) {
    this.clock = clock;
  }

  @Override
  public String name() {
    return "keylime";
  }

  @Override
  public ServerServiceDefinition nodeAttestor() {
    return bindService();
  }

  @Override
  public void init(HostServices hostServices) {
    metrics = new AttestMetrics(hostServices.metrics());
    AttestStream.Context c = context;
    if (c != null) {
      context = withMetrics(c);
    }
  }

  @Override
  public void configure(CoreConfiguration core, String hcl) throws StatusException {
    ServerConfig config;
    try {
      config = ServerConfig.parse(core.getTrustDomain(), hcl);
    } catch (HclException e) {
      throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException();
    }
    context = new AttestStream.Context(config, Keylime.over(new RegistrarClient(config.registrar()),
        new VerifierClient(config.verifier())), evidence, random, clock, metrics);
    LOG.info("configured", "version", io.github.keylimeattestor.sdk.BuildInfo.current().version(),
        "commit", io.github.keylimeattestor.sdk.BuildInfo.current().commit(), "trust_domain", config.trustDomain(), "registrar", config.registrar().urls().toString(),
        "verifier", config.verifier().urls().toString(), "pcr_policy", config.pcrPolicy().toString(),
        "verifier_identity_check", config.verifierIdentityCheck());
  }

  private AttestStream.Context withMetrics(AttestStream.Context c) {
    return new AttestStream.Context(c.config(), c.keylime(), c.evidence(), c.random(), c.clock(), metrics);
  }

  @Override
  public Validation validate(CoreConfiguration core, String hcl) {
    try {
      ServerConfig.parse(core.getTrustDomain(), hcl);
      return Validation.ok(List.of());
    } catch (HclException e) {
      return Validation.invalid(e.getMessage());
    }
  }

  @Override
  public StreamObserver<AttestRequest> attest(StreamObserver<AttestResponse> out) {
    AttestStream.Context c = context;
    if (c == null) {
      out.onError(Status.FAILED_PRECONDITION.withDescription("not configured").asException());
      return Observers.ignoring();
    }
    if (c.metrics() != metrics) {
      c = withMetrics(c);
    }
    return new AttestStream(c, out);
  }
}
