package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.transport.Tcti;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code plugin_data} of {@code KeyManager "keylime_tpm"}: {@code directory} (required; the
 * NodeAttestor's {@code svid_key_directory} names the same one), {@code tcti} and {@code timeout}
 * as for the NodeAttestor.
 */
record TpmKeyManagerConfig(Path directory, Optional<Tcti.Spec> tcti, Duration timeout, List<String> warnings)
    implements TpmSettings {

  static TpmKeyManagerConfig parse(String hcl) throws HclException {
    HclConfig c = HclConfig.parse(hcl);
    List<String> warnings = new ArrayList<>();
    String dir = c.string("directory");
    Optional<Tcti.Spec> read = c.attempt(() -> AgentConfig.tcti(c, warnings));
    Optional<Tcti.Spec> tcti = read == null ? Optional.empty() : read;
    Duration timeout = c.optDuration("timeout", AgentConfig.DEFAULT_TIMEOUT);
    c.rejectUnknownKeys();
    if (timeout.compareTo(Duration.ofMillis(1)) < 0 || timeout.compareTo(Duration.ofSeconds(25)) > 0) {
      // spire-agent gives every KeyManager call 30 s
      c.problem("timeout must be between 1ms and 25s");
    }
    Path directory = dir.isEmpty() ? null : c.attempt(() -> AgentConfig.filePath("directory", dir));
    c.throwIfProblems();
    return new TpmKeyManagerConfig(directory, tcti, timeout, List.copyOf(warnings));
  }

  @Override
  public Tcti.Spec tpm() throws IOException {
    return tcti.isPresent() ? tcti.get() : Tcti.parse(Tcti.defaultSpec());
  }

  @Override
  public String tpmDescription() {
    return tcti.map(Object::toString).orElse("default (device:/dev/tpmrm0 if present, else tabrmd)");
  }

  @Override
  public KeylimeTpm.Primary ek() {
    return KeylimeTpm.EK_RSA;
  }
}
