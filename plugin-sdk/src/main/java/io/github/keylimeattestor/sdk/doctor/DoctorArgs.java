package io.github.keylimeattestor.sdk.doctor;

import io.github.keylimeattestor.sdk.hcl.HclException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code doctor --config <file> [--expand-env] [--uuid <id>]}: {@code --expand-env} (or SPIRE's own
 * spelling, {@code -expandEnv}) expands environment variables in the file as spire-agent and
 * spire-server do when started with {@code -expandEnv}. Returns empty for a usage error.
 */
public record DoctorArgs(Path config, boolean expandEnv, Optional<String> uuid) {

  /** {@code args[0]} is the subcommand ("doctor"); {@code uuidAllowed} only for the server's doctor. */
  public static Optional<DoctorArgs> parse(String[] args, boolean uuidAllowed) {
    Path config = null;
    boolean expandEnv = false;
    String uuid = null;
    for (int i = 1; i < args.length; i++) {
      switch (args[i]) {
        case "--config" -> {
          if (config != null || ++i == args.length) {
            return Optional.empty();
          }
          config = Path.of(args[i]);
        }
        case "--expand-env", "-expandEnv" -> expandEnv = true;
        case "--uuid" -> {
          if (!uuidAllowed || uuid != null || ++i == args.length) {
            return Optional.empty();
          }
          uuid = args[i];
        }
        default -> {
          return Optional.empty();
        }
      }
    }
    return config == null ? Optional.empty() : Optional.of(new DoctorArgs(config, expandEnv, Optional.ofNullable(uuid)));
  }

  /** The configuration's plugin_data for the block named {@code pluginName}, expanded if asked. */
  public PluginDataFile read(String pluginName) throws IOException, HclException {
    return PluginDataFile.read(config, pluginName, expandEnv ? System::getenv : null);
  }
}
