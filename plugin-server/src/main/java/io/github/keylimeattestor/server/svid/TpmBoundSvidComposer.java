package io.github.keylimeattestor.server.svid;

import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.server.credentialcomposer.ComposeAgentX509SVIDRequest;
import io.github.keylimeattestor.proto.spire.server.credentialcomposer.ComposeAgentX509SVIDResponse;
import io.github.keylimeattestor.proto.spire.server.credentialcomposer.CredentialComposerGrpc;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Server-side {@code CredentialComposer "keylime_tpm_bound_svid"}: spire-server asks it while
 * signing an agent X.509-SVID ({@code ComposeAgentX509SVID}, with the agent's SPIFFE ID and the
 * SVID's public key), and it refuses unless the keylime NodeAttestor of this server just recorded
 * that the node's AK certified exactly that key, TPM-resident, for exactly that agent ID
 * ({@link SvidBindings}). A refusal fails the SVID signing, so the agent gets no SVID. Every other
 * method is left UNIMPLEMENTED, which SPIRE takes as "attributes unchanged": workload, server and CA
 * credentials are untouched.
 */
public final class TpmBoundSvidComposer extends CredentialComposerGrpc.CredentialComposerImplBase implements Plugin {
  static final String NAME = "keylime_tpm_bound_svid";
  private final Log log = Log.named("keylime.composer");
  private final Clock clock;
  private volatile SvidBindings bindings;

  public TpmBoundSvidComposer() {
    this(Clock.systemUTC());
  }

  TpmBoundSvidComposer(Clock clock) {
    this.clock = clock;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String type() {
    return "CredentialComposer";
  }

  @Override
  public ServerServiceDefinition pluginService() {
    return bindService();
  }

  static Path parse(String hcl) throws HclException {
    HclConfig c = HclConfig.parse(hcl);
    String raw = c.optString("svid_binding_directory", "");
    if (raw.isEmpty()) {
      c.missing("svid_binding_directory", "\"/var/lib/spire/server/keylime-svid-bindings\", the same as the keylime "
          + "NodeAttestor's");
    }
    c.rejectUnknownKeys();
    Path path = raw.isEmpty() ? null : Path.of(raw);
    if (path != null) {
      SvidBindings.checkPrivate("svid_binding_directory", path).ifPresent(c::problem);
    }
    c.throwIfProblems();
    return path;
  }

  @Override
  public void configure(CoreConfiguration core, String hcl) throws StatusException {
    Path dir;
    try {
      dir = parse(hcl);
    } catch (HclException e) {
      throw Status.INVALID_ARGUMENT.withDescription(NAME + " plugin_data: " + e.getMessage()).asException();
    }
    bindings = new SvidBindings(dir);
    log.info("configured", "svid_binding_directory", dir.toString());
  }

  @Override
  public Validation validate(CoreConfiguration core, String hcl) {
    try {
      parse(hcl);
      return Validation.ok(List.of());
    } catch (HclException e) {
      List<String> notes = new ArrayList<>();
      e.problems().forEach(p -> notes.add(NAME + " plugin_data: " + p));
      return Validation.invalid(notes);
    }
  }

  @Override
  public void composeAgentX509SVID(ComposeAgentX509SVIDRequest req, StreamObserver<ComposeAgentX509SVIDResponse> out) {
    SvidBindings b = bindings;
    if (b == null) {
      out.onError(Status.FAILED_PRECONDITION.withDescription(NAME + " is not configured").asException());
      return;
    }
    Optional<String> keyId;
    try {
      keyId = b.certified(req.getSpiffeId(), req.getPublicKey().toByteArray(), clock.instant());
    } catch (SvidBindings.UntrustedException e) {
      log.error("refused the SVID binding records", "dir", b.dir().toString(), "error", e.getMessage());
      out.onError(Status.FAILED_PRECONDITION.withDescription(NAME + ": the records are not trusted: " + e.getMessage())
          .asException());
      return;
    } catch (IOException | java.nio.file.DirectoryIteratorException | java.io.UncheckedIOException e) {
      log.error("cannot read the SVID binding records", "dir", b.dir().toString(), "error", String.valueOf(e));
      out.onError(Status.UNAVAILABLE.withDescription(NAME + ": cannot read svid_binding_directory " + b.dir() + ": "
          + e.getMessage()).asException());
      return;
    } catch (RuntimeException e) {
      log.error("bug while reading the SVID binding records", "dir", b.dir().toString(), "error", String.valueOf(e));
      out.onError(Status.INTERNAL.withDescription(NAME + ": plugin bug while reading svid_binding_directory: " + e)
          .asException());
      return;
    }
    if (keyId.isEmpty()) {
      log.warn("refused an agent X.509-SVID for a key the TPM attestation did not certify", "spiffe_id",
          req.getSpiffeId(), "spki_sha256", SvidBindings.spkiHash(req.getPublicKey().toByteArray()));
      out.onError(Status.PERMISSION_DENIED.withDescription("agent " + req.getSpiffeId() + ": the SVID's public key "
          + "is not a TPM-resident key that the node's AK certified in a recent attestation of this agent ID "
          + "(TPM-bound agent SVIDs are "
          + "required): configure the agent's KeyManager \"keylime_tpm\" and point the agent's keylime NodeAttestor's "
          + "svid_key_directory at its directory; on this server, the keylime NodeAttestor's svid_binding_directory "
          + "must be " + b.dir() + " (else it records no keys)").asException());
      return;
    }
    log.info("agent X.509-SVID key is TPM-bound", "spiffe_id", req.getSpiffeId(), "key_id", keyId.get(),
        "spki_sha256", SvidBindings.spkiHash(req.getPublicKey().toByteArray()));
    out.onNext(ComposeAgentX509SVIDResponse.newBuilder().setAttributes(req.getAttributes()).build());
    out.onCompleted();
  }
}
