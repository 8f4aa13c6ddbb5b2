package io.github.keylimeattestor.server;

import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.server.svid.SvidBindings;
import io.github.keylimeattestor.sovereign.VerifiedEvidence;
import io.grpc.Status;
import io.grpc.StatusException;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * After the evidence verified: enforces {@code require_tpm_bound_svid} and records the certified SVID
 * keys for CredentialComposer "keylime_tpm_bound_svid". spire-server signs the agent SVID right after
 * the NodeAttestor returns (in the same AttestAgent call), so a record lives 30 s.
 */
final class SvidKeyRecorder {
  private static final Log LOG = Log.named("keylime.server");

  /** Long enough for spire-server to sign the SVID after the NodeAttestor answered, in the same call. */
  static final Duration RECORD_LIFETIME = Duration.ofSeconds(30);

  private SvidKeyRecorder() {}

  static void record(ServerConfig.TpmBoundSvid conf, List<VerifiedEvidence.CertifiedSvidKey> svidKeys,
      String spiffeId, Clock clock) throws StatusException {
    if (conf.required() && svidKeys.isEmpty()) {
      throw Status.PERMISSION_DENIED.withDescription("agent " + spiffeId + ": require_tpm_bound_svid is on but this "
          + "attestation certifies no agent SVID key: configure the agent's KeyManager \"keylime_tpm\" (instead of "
          + "\"disk\" or \"memory\") and set svid_key_directory of its keylime NodeAttestor to that KeyManager's "
          + "directory").asException();
    }
    if (svidKeys.isEmpty()) {
      return;
    }
    if (conf.bindingDirectory().isEmpty()) {
      // the agent did its part; a CredentialComposer "keylime_tpm_bound_svid" would now refuse this agent's SVID
      LOG.warn("SVID keys certified by the AK are not recorded: this keylime NodeAttestor has no "
          + "svid_binding_directory (set it to the directory of CredentialComposer \"keylime_tpm_bound_svid\", if one "
          + "is configured)", "spiffe_id", spiffeId, "keys", svidKeys.size());
      return;
    }
    SvidBindings bindings = new SvidBindings(conf.bindingDirectory().get());
    Instant now = clock.instant();
    try {
      for (VerifiedEvidence.CertifiedSvidKey k : svidKeys) {
        byte[] spki = k.spki().toByteArray();
        bindings.record(spiffeId, spki, k.keyId(), now.plus(RECORD_LIFETIME), now);
        LOG.info("SVID key certified by the AK", "spiffe_id", spiffeId, "key_id", k.keyId(), "spki_sha256",
            SvidBindings.spkiHash(spki));
      }
    } catch (SvidBindings.UntrustedException e) {
      LOG.error("refused to record certified SVID keys", "dir", bindings.dir().toString(), "error", e.getMessage());
      throw Status.FAILED_PRECONDITION.withDescription("cannot record the certified SVID keys: " + e.getMessage())
          .asException();
    } catch (IOException e) {
      LOG.error("cannot record certified SVID keys", "dir", bindings.dir().toString(), "error", String.valueOf(e));
      throw Status.UNAVAILABLE.withDescription("cannot record the certified SVID keys in svid_binding_directory "
          + bindings.dir() + ": " + e.getMessage() + " (spire-server must own that directory)").asException();
    }
  }
}
