package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.keylime.KeylimeAgentClient;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.sdk.BuildInfo;
import io.github.keylimeattestor.sdk.doctor.DoctorArgs;
import io.github.keylimeattestor.sdk.doctor.DoctorReport;
import io.github.keylimeattestor.sdk.doctor.PluginDataFile;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.log.Level;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.sovereign.Nonce;
import io.github.keylimeattestor.tpm.transport.Tcti;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.TpmException;
import io.github.keylimeattestor.tpm.command.GetCapability;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Locale;
import java.util.Optional;

/**
 * {@code keylime-attestor-agent doctor --config <spire agent.conf or plugin_data file>}: what the
 * plugin needs on this node, each checked as the plugin would use it, and what to fix. Read-only:
 * it never creates the App Key (spire-agent's user must own it).
 */
final class AgentDoctor {
  private final DoctorReport report;
  private final TpmAccess tpmAccess = new TpmAccess();

  AgentDoctor(PrintStream out) {
    this.report = new DoctorReport(out);
  }

  /** Entry point from {@link KeylimeAgentMain}; returns the exit code. */
  static int main(String[] args, PrintStream out) {
    // an operator's command: the plugin's debug lines (each TPM retry, ...) would bury the report
    Log.setThreshold(Level.INFO);
    Optional<DoctorArgs> parsed = DoctorArgs.parse(args, false);
    if (parsed.isEmpty()) {
      out.println("usage: keylime-attestor-agent doctor --config <spire-agent config or plugin_data file> [--expand-env]"
          + " (--expand-env: as spire-agent -expandEnv)");
      return 2;
    }
    return new AgentDoctor(out).run(parsed.get());
  }

  int run(DoctorArgs args) {
    report.note("version", BuildInfo.current().line());
    AgentConfig config;
    boolean spireConfiguration;
    try {
      PluginDataFile data = args.read("keylime");
      spireConfiguration = data.fromSpireConfiguration();
      config = AgentConfig.parse(data.pluginData());
      report.ok("plugin_data", "read from " + data.source() + (args.expandEnv() ? ", environment variables expanded" : ""));
      config.warnings().forEach(w -> report.note("plugin_data", w));
    } catch (IOException e) {
      report.fix("plugin_data", "cannot read " + args.config() + ": " + e);
      return report.exitCode();
    } catch (HclException e) {
      report.fix("plugin_data", e.getMessage());
      return report.exitCode();
    }
    checkTpm(config);
    AgentData agentData = checkAgentData(config);
    if (agentData != null) {
      checkAk(config, agentData);
    }
    checkUuid(config);
    checkAppKey(config);
    checkTpmBoundSvid(config, args, spireConfiguration);
    config.keylimeAgent().ifPresent(endpoint -> checkKeylimeAgent(config, endpoint));
    return report.exitCode();
  }

  /** TPM_PT_HR_TRANSIENT_AVAIL (PT_VAR + 7): transient object slots free right now. */
  static final int PT_HR_TRANSIENT_AVAIL = 0x200 + 7;
  /** The plugin holds at most this many transient objects at once (KeylimeTpm). */
  static final int SLOTS_NEEDED = 2;

  private record TpmFacts(int freeSlots, int guaranteedSlots, int firmware1, int firmware2) {}

  private void checkTpm(AgentConfig config) {
    try {
      TpmFacts facts = tpmAccess.use(config, "reading the EK, the free object slots and the firmware version",
          (tpm, ktpm) -> {
            ktpm.ekPublic();
            var free = tpm.execute(GetCapability.properties(PT_HR_TRANSIENT_AVAIL, 1)).properties();
            var min = tpm.execute(GetCapability.properties(GetCapability.PT_HR_TRANSIENT_MIN, 1)).properties();
            var fw = tpm.execute(GetCapability.properties(GetCapability.PT_FIRMWARE_VERSION_1, 2)).properties();
            return new TpmFacts(free.getOrDefault(PT_HR_TRANSIENT_AVAIL, -1),
                min.getOrDefault(GetCapability.PT_HR_TRANSIENT_MIN, -1),
                fw.getOrDefault(GetCapability.PT_FIRMWARE_VERSION_1, 0), fw.getOrDefault(GetCapability.PT_FIRMWARE_VERSION_2, 0));
          });
      Tcti.Spec spec = config.tpm();
      report.ok("TPM", "reachable through " + describe(spec) + "; EK readable");
      if (facts.freeSlots() >= SLOTS_NEEDED) {
        report.ok("TPM object slots", facts.freeSlots() + " transient object slots free (the TPM guarantees "
            + facts.guaranteedSlots() + "; the plugin needs " + SLOTS_NEEDED + ")");
      } else {
        report.fix("TPM object slots", "only " + facts.freeSlots() + " transient object slot(s) free, the plugin needs "
            + SLOTS_NEEDED + ": another program holds transient objects on this TPM without a resource manager; "
            + "use /dev/tpmrm0 or tpm2-abrmd for every TPM user");
      }
      // what the TPM signs into every quote (TPMS_ATTEST.firmwareVersion), written as the server's selector is
      report.ok("TPM firmware", String.format(Locale.ROOT, "%08x%08x", facts.firmware1(), facts.firmware2())
          + " (the server's keylime:tpm:firmware selector, given an EK certificate that chains to its ek_ca_bundle)");
      if (spec instanceof Tcti.Spec.Device d && d.path().getFileName().toString().equals("tpm0")) {
        report.note("TPM", "/dev/tpm0 is the raw device: with a Keylime agent or tpm2-abrmd on this node use "
            + "/dev/tpmrm0 (the kernel resource manager), or the TPM is not shared safely");
      }
    } catch (AttestationFailure e) {
      report.fix("TPM", e.getMessage());
    } catch (IOException e) {
      report.fix("TPM", "no TPM to use: " + e.getMessage());
    }
  }

  private static String describe(Tcti.Spec tpm) {
    if (tpm instanceof Tcti.Spec.Swtpm s) {
      return "swtpm at " + s.host() + ":" + s.port();
    }
    if (tpm instanceof Tcti.Spec.Tabrmd) {
      return "tpm2-abrmd (" + tpm + ")";
    }
    return tpm + (tpm.toString().endsWith("tpmrm0") ? " (kernel resource manager)" : "");
  }

  private AgentData checkAgentData(AgentConfig config) {
    try {
      if (Files.exists(config.agentDataPath())) {
        Attestation.checkKeyFile(config.agentDataPath(), "agent_data_path", true);
      }
      AgentData d = AgentData.read(config.agentDataPath());
      report.ok("agent_data.json", config.agentDataPath() + " readable (AK " + d.akHashAlg() + "/" + d.akSignAlg() + ")");
      return d;
    } catch (NoSuchFileException e) {
      report.fix("agent_data.json", config.agentDataPath() + " does not exist: start the Keylime agent (it writes the "
          + "file when it creates its AK) or correct agent_data_path");
    } catch (IOException e) {
      report.fix("agent_data.json", "cannot read " + config.agentDataPath() + ": " + e.getMessage()
          + " (spire-agent's user needs read access, e.g. through group tss)");
    } catch (TpmException e) {
      report.fix("agent_data.json", config.agentDataPath() + " is not a rust-keylime agent_data.json: " + e.getMessage());
    } catch (AttestationFailure e) {
      report.fix("agent_data.json", e.getMessage());
    }
    return null;
  }

  /** The Keylime agent UUID as the plugin works it out (keylime_agent_uuid, the agent's config, or its API). */
  private void checkUuid(AgentConfig config) {
    try {
      report.ok("Keylime agent UUID", new Attestation(config, tpmAccess).resolveAgentId().value());
    } catch (AttestationFailure e) {
      report.fix("Keylime agent UUID", e.getMessage());
    }
  }

  private void checkAk(AgentConfig config, AgentData agentData) {
    try {
      KeyBlob ak = agentData.akBlob();
      byte[] nonce = Nonce.mint(new SecureRandom()).quoteQualifyingData();
      tpmAccess.use(config, "loading the Keylime AK and quoting PCR 16", (tpm, ktpm) ->
          ktpm.quote(ak, nonce, PcrSelection.of(Alg.SHA256, 16)));
      report.ok("Keylime AK", "loads under this TPM's EK and quotes");
    } catch (TpmException e) {
      report.fix("Keylime AK", "the AK in " + config.agentDataPath() + " is unusable: " + e.getMessage());
    } catch (AttestationFailure e) {
      report.fix("Keylime AK", e.getMessage() + " (is agent_data.json from this TPM, and ek_handle / ek_algorithm "
          + "the Keylime agent's?)");
    }
  }

  private void checkAppKey(AgentConfig config) {
    Path path = config.appKeyPath();
    Path dir = path.toAbsolutePath().getParent();
    try {
      Attestation.checkKeyDirectory(dir, "app_key_path's directory");
      AppKeyStore.checkNotALink(path);
    } catch (AttestationFailure e) {
      report.fix("App Key", e.getMessage());
      return;
    }
    if (!Files.exists(path)) {
      report.note("App Key", path + " does not exist yet: spire-agent creates it at the first attestation "
          + "(its user needs write access to " + dir + ")");
      return;
    }
    try {
      Attestation.checkKeyFile(path, "app_key_path", false); // the plugin refuses such a file, it does not repair it
    } catch (AttestationFailure e) {
      report.fix("App Key", e.getMessage());
      return;
    }
    try {
      PosixFileAttributes a = Files.readAttributes(path, PosixFileAttributes.class);
      String mode = PosixFilePermissions.toString(a.permissions());
      byte[] bytes;
      try (var in = Files.newInputStream(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        bytes = in.readNBytes(KeyBlob.DEFAULT_LIMIT + 1);
      }
      KeyBlob blob = KeyBlob.parse(bytes, KeyBlob.DEFAULT_LIMIT);
      tpmAccess.use(config, "loading the App Key", (tpm, ktpm) -> {
        ktpm.checkLoadable(blob);
        return null;
      });
      report.ok("App Key", path + " loads (owner " + a.owner().getName() + ", mode " + mode + ")");
    } catch (IOException e) {
      report.fix("App Key", "cannot read " + path + ": " + e.getMessage() + " (it must belong to spire-agent's user)");
    } catch (TpmException e) {
      report.note("App Key", path + " is not a key blob (" + e.getMessage() + "): the plugin replaces it at the next "
          + "attestation and the node's app_key selector changes");
    } catch (AttestationFailure e) {
      report.note("App Key", path + " does not load (" + e.getMessage() + "): if the Keylime AK loads, the plugin"
          + " makes a new App Key at the next attestation and the node's app_key selector changes");
    }
  }

  static final String SVID = "TPM-bound SVID";

  /**
   * The NodeAttestor's svid_key_directory against the KeyManager "keylime_tpm" block of the same
   * agent.conf: the same directory, the same TPM, and key blobs the plugin would certify (private,
   * in a directory nobody else may write, loadable by this TPM). With a plugin_data file alone there
   * is no KeyManager block to compare: only the directory is checked.
   */
  private void checkTpmBoundSvid(AgentConfig config, DoctorArgs args, boolean spireConfiguration) {
    Optional<TpmKeyManagerConfig> keyManager = Optional.empty();
    if (spireConfiguration) {
      try {
        Optional<PluginDataFile> block = args.find("KeyManager", "keylime_tpm");
        if (block.isPresent()) {
          keyManager = Optional.of(TpmKeyManagerConfig.parse(block.get().pluginData()));
        }
      } catch (IOException e) {
        report.fix(SVID, "cannot read " + args.config() + ": " + e.getMessage());
        return;
      } catch (HclException e) {
        report.fix(SVID, "KeyManager \"keylime_tpm\": " + e.getMessage());
        return;
      }
    }
    if (config.svidKeyDirectory().isEmpty()) {
      keyManager.ifPresent(k -> report.note(SVID, "KeyManager \"keylime_tpm\" keeps spire-agent's keys in the TPM, "
          + "but the NodeAttestor has no svid_key_directory, so it certifies none of them and spire-server cannot tell "
          + "(require_tpm_bound_svid refuses this node): set svid_key_directory = \"" + k.directory() + "\""));
      return;
    }
    Path dir = config.svidKeyDirectory().get();
    if (spireConfiguration && keyManager.isEmpty()) {
      // a note: SPIRE lets the block have another name (plugin_cmd is what runs), which this cannot see
      report.note(SVID, "svid_key_directory is set, but " + args.config() + " has no KeyManager \"keylime_tpm\": "
          + "unless a KeyManager of another name runs this executable with directory = \"" + dir + "\", "
          + "spire-agent's SVID key is no TPM key and " + dir + " holds nothing to certify");
    }
    if (keyManager.isPresent()) {
      TpmKeyManagerConfig k = keyManager.get();
      if (!k.directory().toAbsolutePath().normalize().equals(dir.toAbsolutePath().normalize())) {
        report.fix(SVID, "svid_key_directory " + dir + " is not the directory of KeyManager \"keylime_tpm\" ("
            + k.directory() + "): the NodeAttestor would certify no key spire-agent signs with; make them the same");
        return;
      }
      Optional<Tcti.Spec> attestorTpm;
      try {
        attestorTpm = Optional.of(config.tpm());
      } catch (IOException e) {
        attestorTpm = Optional.empty(); // no TPM found: the TPM check above says so
      }
      if (k.tcti().isPresent() && attestorTpm.isPresent() && !k.tcti().get().equals(attestorTpm.get())) {
        report.fix(SVID, "KeyManager \"keylime_tpm\" makes its keys on " + k.tcti().get() + ", the NodeAttestor "
            + "certifies them with the AK on " + attestorTpm.get() + ": give both the same tcti");
        return;
      }
    }
    if (!Files.isDirectory(dir)) {
      report.note(SVID, dir + " does not exist yet: KeyManager \"keylime_tpm\" makes it when spire-agent first "
          + "generates its SVID key (spire-agent's user needs write access to " + dir.toAbsolutePath().getParent() + ")");
      return;
    }
    try {
      java.util.Map<String, KeyBlob> keys = new SvidKeyDirectory(dir).readAll();
      if (keys.isEmpty()) {
        report.note(SVID, dir + " holds no key yet: spire-agent generates its SVID key after its first attestation, "
            + "and the NodeAttestor certifies it from the next one on");
        return;
      }
      java.util.Map<String, String> refused = tpmAccess.use(config, "loading the SVID keys", (tpm, ktpm) -> {
        java.util.Map<String, String> out = new java.util.TreeMap<>();
        for (java.util.Map.Entry<String, KeyBlob> k : keys.entrySet()) {
          try {
            ktpm.checkLoadable(k.getValue());
          } catch (io.github.keylimeattestor.tpm.TpmResponseException e) {
            if (e.commandCode() != io.github.keylimeattestor.tpm.CommandCode.LOAD || e.responseCode().isWarning()) {
              throw e; // busy or out of memory: not the key's fault
            }
            out.put(k.getKey(), e.getMessage());
          }
        }
        return out;
      });
      if (refused.isEmpty()) {
        report.ok(SVID, dir + ": " + keys.size() + " key(s) of KeyManager \"keylime_tpm\" (" + String.join(", ",
            keys.keySet()) + "), private, each loads on this TPM");
      } else {
        report.note(SVID, "this TPM does not load " + String.join(", ", refused.keySet()) + " in " + dir + " ("
            + refused.values().iterator().next() + "): the plugin skips such a key, and KeyManager \"keylime_tpm\" "
            + "drops it at its next start, so spire-agent makes a new one");
      }
    } catch (SvidKeyDirectory.UnsafeKeyFileException e) {
      report.fix(SVID, "svid_key_directory " + dir + ": " + e.getMessage());
    } catch (IOException e) {
      report.fix(SVID, "cannot read svid_key_directory " + dir + ": " + e.getMessage());
    } catch (AttestationFailure e) {
      report.fix(SVID, "could not check the keys in " + dir + " on the TPM: " + e.getMessage());
    }
  }

  private void checkKeylimeAgent(AgentConfig config, AgentConfig.KeylimeAgentEndpoint endpoint) {
    try {
      var version = new KeylimeAgentClient(endpoint.settings(config.timeout())).apiVersion();
      report.ok("Keylime agent", endpoint.url() + " answers (API " + version + ")");
    } catch (IOException e) {
      report.fix("Keylime agent", "keylime_agent_tls: " + e.getMessage());
    } catch (KeylimeException e) {
      report.fix("Keylime agent", e.getMessage());
    }
  }
}
