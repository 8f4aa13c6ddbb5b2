package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.RegistrarAgent;
import io.github.keylimeattestor.keylime.RegistrarClient;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.sdk.BuildInfo;
import io.github.keylimeattestor.sdk.doctor.DoctorArgs;
import io.github.keylimeattestor.sdk.doctor.DoctorReport;
import io.github.keylimeattestor.sdk.doctor.PluginDataFile;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.log.Level;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.StatusException;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * {@code keylime-attestor-server doctor --config <spire server.conf or plugin_data file> [--uuid <id>]}:
 * the registrar and the verifier reached over mTLS with our client certificate, and, for a node's
 * Keylime agent UUID, its registration and the verifier's judgement as an attestation would see them.
 */
final class ServerDoctor {
  /** A verifier timestamp this far ahead of our clock means one of the clocks is wrong. */
  static final Duration SKEW = Duration.ofSeconds(5);

  private final DoctorReport report;
  private final Clock clock;

  ServerDoctor(PrintStream out, Clock clock) {
    this.report = new DoctorReport(out);
    this.clock = clock;
  }

  /** Entry point from {@link KeylimeServerMain}; returns the exit code. */
  static int main(String[] args, PrintStream out) {
    // an operator's command: the plugin's debug lines (each TPM retry, ...) would bury the report
    Log.setThreshold(Level.INFO);
    Optional<DoctorArgs> parsed = DoctorArgs.parse(args, true);
    if (parsed.isEmpty()) {
      out.println("usage: keylime-attestor-server doctor --config <spire-server config or plugin_data file> "
          + "[--expand-env] [--uuid <Keylime agent UUID of a node>] (--expand-env: as spire-server -expandEnv)");
      return 2;
    }
    return new ServerDoctor(out, Clock.systemUTC()).run(parsed.get());
  }

  int run(DoctorArgs args) {
    report.note("version", BuildInfo.current().line());
    Optional<String> uuid = args.uuid();
    ServerConfig config;
    try {
      PluginDataFile data = args.read("keylime");
      config = ServerConfig.parse(data.trustDomain() == null ? "example.org" : data.trustDomain(), data.pluginData());
      report.ok("plugin_data", "read from " + data.source() + (args.expandEnv() ? ", environment variables expanded" : ""));
      config.warnings().forEach(w -> report.note("plugin_data", w));
    } catch (IOException e) {
      report.fix("plugin_data", "cannot read " + args.config() + ": " + e);
      return report.exitCode();
    } catch (HclException e) {
      report.fix("plugin_data", e.getMessage());
      return report.exitCode();
    }
    RegistrarClient registrar = new RegistrarClient(config.registrar());
    VerifierClient verifier = new VerifierClient(config.verifier());
    boolean registrarUp = reachable("registrar", config.registrar().urls().toString(), registrar::apiVersion);
    boolean verifierUp = reachable("verifier", config.verifier().urls().toString(), verifier::apiVersion);
    if (uuid.isEmpty()) {
      report.note("node", "add --uuid <Keylime agent UUID> to check one node's registration and attestation status");
    } else {
      if (registrarUp) {
        checkRegistration(registrar, uuid.get());
      }
      if (verifierUp) {
        checkStatus(config, verifier, uuid.get());
      }
    }
    return report.exitCode();
  }

  interface Call {
    Object run() throws KeylimeException;
  }

  private boolean reachable(String what, String urls, Call call) {
    try {
      Object version = call.run();
      report.ok(what, urls + " reached over mTLS with our client certificate (API " + version + ")");
      return true;
    } catch (KeylimeException e) {
      report.fix(what, e.getMessage());
      return false;
    }
  }

  private void checkRegistration(RegistrarClient registrar, String uuid) {
    try {
      RegistrarAgent a = registrar.getAgent(uuid);
      report.ok("registration", "agent " + uuid + " is registered and active"
          + (a.ekCertificate().isPresent() ? ", with an EK certificate"
              : a.ekCertificateUnreadable().map(why -> ", with an EK certificate this JDK cannot parse (" + why
                  + "): with ek_ca_bundle it counts as refused").orElse(", without an EK certificate")));
    } catch (KeylimeException e) {
      report.fix("registration", e.getMessage());
    }
  }

  private void checkStatus(ServerConfig config, VerifierClient verifier, String uuid) {
    try {
      VerifierAgentStatus s = verifier.getAgent(uuid);
      Instant now = clock.instant();
      Optional<Instant> latest = s.lastReceivedQuote().or(s::lastSuccessfulAttestation);
      if (latest.isPresent() && latest.get().isAfter(now.plus(SKEW))) {
        report.fix("clock", "the verifier's last quote of " + uuid + " is dated " + latest.get() + ", "
            + Duration.between(now, latest.get()).toSeconds() + "s ahead of this host's clock: synchronise both with NTP "
            + "(max_attestation_age depends on it)");
      } else if (latest.isPresent()) {
        report.ok("clock", "the verifier's last quote (" + latest.get() + ") is not ahead of this host's clock");
      }
      if (s.isPushMode()) {
        PushStatusPolicy.check(config, s, verifier.latestPushAttestation(uuid), now);
      } else {
        StatusPolicy.check(config, s, now);
      }
      report.ok("attestation status", "the verifier's judgement of " + uuid + " passes this policy ("
          + (s.isPushMode() ? "push mode" : s.operationalState().map(o -> o.label()).orElse("no state")) + ", "
          + s.attestationStatus().map(Object::toString).orElse("no status") + ")");
    } catch (KeylimeException e) {
      report.fix("attestation status", e.getMessage());
    } catch (StatusException e) {
      report.fix("attestation status", e.getStatus().getCode() + ": " + e.getStatus().getDescription());
    }
  }
}
