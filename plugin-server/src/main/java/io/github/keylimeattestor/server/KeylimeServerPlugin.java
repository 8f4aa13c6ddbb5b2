package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.RegistrarClient;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestRequest;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.AttestResponse;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.NodeAttestorGrpc;
import io.github.keylimeattestor.sdk.BuildInfo;
import io.github.keylimeattestor.sdk.HostServices;
import io.github.keylimeattestor.sdk.Observers;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.server.revocation.RevocationMetrics;
import io.github.keylimeattestor.server.revocation.RevocationWatch;
import io.github.keylimeattestor.server.trust.EkBinding;
import io.github.keylimeattestor.sovereign.ClockHistory;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.Optional;

/** Server-side NodeAttestor "keylime": verifies SovereignAttestations against Keylime. */
final class KeylimeServerPlugin extends NodeAttestorGrpc.NodeAttestorImplBase implements Plugin {
  private static final Log LOG = Log.named("keylime.server");

  /** Made at the first Configure: its provider set-up is a few milliseconds that need not precede the handshake. */
  private SecureRandom random;
  private final EvidenceVerifier evidence = new EvidenceVerifier(new ClockHistory(100_000));
  private final Clock clock;
  private volatile AttestMetrics metrics = new AttestMetrics(Optional.empty());
  private volatile AttestStream.Context context;
  private final RevocationMetrics revocationMetrics = new RevocationMetrics();
  private RevocationWatch watch;
  private EkBinding ekBinding;
  /** Ends every stream at its deadline: one daemon thread for all streams. */
  private final ScheduledThreadPoolExecutor deadlines = deadlineScheduler();

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
    revocationMetrics.use(hostServices.metrics());
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
    SecureRandom random = random();
    VerifierClient verifier;
    RegistrarClient registrar;
    try {
      verifier = new VerifierClient(config.verifier());
      registrar = new RegistrarClient(config.registrar(), registrarRecordTtl(config));
    } catch (IllegalStateException e) { // the JVM was started with server name checks off
      throw Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asException();
    }
    startWatch(config, verifier);
    context = new AttestStream.Context(config, Keylime.over(registrar, verifier),
        evidence, random, clock, metrics, deadlines, this::watchAttested, openEkBinding(config));
    KeylimeWarmUp.start(registrar, verifier);
    if (!config.agentIdNamesTheEkAlone() && config.trust().ekBindingSocket().isEmpty()) {
      LOG.warn("agent IDs are not bound one to a TPM: one TPM can hold several (a UUID each)"
          + (config.agentPath().namesTheEk() ? "" : " and an ID can pass to another TPM") + "; use only {{ .EKHash }} "
          + "as the node's part of agent_path_template or add an ek_binding block (plugin-server/README.md, Trust controls)");
    }
    BuildInfo build = BuildInfo.current();
    LOG.info("configured", "version", build.version(), "commit", build.commit(), "trust_domain", config.trustDomain(),
        "registrar", config.registrar().urls().toString(),
        "verifier", config.verifier().urls().toString(), "pcr_policy", config.pcrPolicy().toString(),
        "verifier_identity_check", config.verifierIdentityCheck(), "revocation", config.revocation().isPresent());
  }

  @Override
  public void trainOffline() throws Exception {
    CdsTraining.run();
    KeylimeTraining.run();
  }

  private synchronized SecureRandom random() {
    if (random == null) {
      random = new SecureRandom();
    }
    return random;
  }

  /**
   * A node passed attestation: the current watch learns it, also from a stream that began under an
   * earlier configuration (its own watch is closed by now, and adopt() took only what it held then).
   */
  private synchronized void watchAttested(io.github.keylimeattestor.server.revocation.AttestedNode n) {
    // synchronized with startWatch: not into the old watch after adopt() has copied it
    if (watch != null) {
      watch.attested(n);
    }
  }

  /** The revocation watch of this configuration (null without a revocation block); replaces the previous one. */
  private synchronized void startWatch(ServerConfig config, VerifierClient verifier) {
    RevocationWatch previous = watch;
    if (previous != null) {
      // before the new one adopts its nodes: a cycle of the old one may be acting on some right now
      previous.closeAndWait(java.time.Duration.ofSeconds(2));
    }
    watch = config.revocation().map(r -> RevocationWatch.start(r, verifier, revocationMetrics)).orElse(null);
    if (previous != null && watch != null) {
      watch.adopt(previous);
    }
  }

  /**
   * The EK binding of this configuration (empty without an ek_binding block). The previous one is
   * kept when the socket is unchanged (streams of the old configuration may still use it), else closed.
   */
  private synchronized Optional<EkBinding> openEkBinding(ServerConfig config) {
    Optional<java.nio.file.Path> socket = config.trust().ekBindingSocket();
    if (ekBinding != null && !socket.equals(Optional.of(ekBinding.socket()))) {
      ekBinding.close();
      ekBinding = null;
    }
    if (socket.isPresent() && ekBinding == null) {
      // spire-server answers its admin socket at once; bounded like a Keylime call, not by the whole stream
      ekBinding = EkBinding.open(socket.get(), java.time.Duration.ofSeconds(10));
    }
    return Optional.ofNullable(ekBinding);
  }

  @Override
  public synchronized void close() {
    deadlines.shutdownNow();
    if (ekBinding != null) {
      ekBinding.close();
      ekBinding = null;
    }
    if (watch != null) {
      watch.close();
      watch = null;
    }
  }

  private AttestStream.Context withMetrics(AttestStream.Context c) {
    return new AttestStream.Context(c.config(), c.keylime(), c.evidence(), c.random(), c.clock(), metrics,
        c.deadlines(), c.attested(), c.ekBinding());
  }

  static ScheduledThreadPoolExecutor deadlineScheduler() {
    ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "attest-deadlines");
      t.setDaemon(true);
      return t;
    });
    // A finished stream cancels its deadline; drop it at once rather than keep it queued for challenge_timeout.
    s.setRemoveOnCancelPolicy(true);
    return s;
  }

  @Override
  public Validation validate(CoreConfiguration core, String hcl) {
    try {
      return Validation.ok(ServerConfig.parse(core.getTrustDomain(), hcl).warnings());
    } catch (HclException e) {
      return Validation.invalid(e.problems());
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

  /**
   * How long a registrar record is reused. With the verifier's second opinion on, the verifier checks
   * each quote against its own copy of the AK, so a record replaced or deleted in the registrar within
   * that time cannot pass on a stale AK. Without it the registrar's current record is the only tie
   * between the agent ID and the AK: read it at every attestation (one request on a kept connection).
   */
  static java.time.Duration registrarRecordTtl(ServerConfig config) {
    return config.verifierIdentityCheck() ? RegistrarClient.DEFAULT_RECORD_TTL : java.time.Duration.ZERO;
  }
}
