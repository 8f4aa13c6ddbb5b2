package io.github.keylimeattestor.sdk.doctor;

import io.github.keylimeattestor.sdk.hcl.HclException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code doctor --config <file> [--expand-env] [--uuid <id>]}: {@code --expand-env} (or SPIRE's own
 * spelling, {@code -expandEnv}, also {@code -expandEnv=true|false} as Go's flag package reads it)
 * expands environment variables in the file as spire-agent and spire-server do when started with
 * {@code -expandEnv}. {@link #parse} returns empty for a usage error.
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
        case "--expand-env", "-expandEnv", "--expandEnv", "-expandEnv=true", "--expandEnv=true" -> expandEnv = true;
        case "-expandEnv=false", "--expandEnv=false" -> expandEnv = false;
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
    return PluginDataFile.read(config, pluginName, expandEnv ? processEnvironment()::get : null);
  }

  /** The plugin_data of another plugin block of the configuration ({@code KeyManager "keylime_tpm"}), if it has one. */
  public Optional<PluginDataFile> find(String pluginType, String pluginName) throws IOException, HclException {
    return PluginDataFile.find(config, pluginType, pluginName, expandEnv ? processEnvironment()::get : null);
  }

  /**
   * The environment as Go's os.Getenv sees it: /proc/self/environ read as UTF-8. Java decodes its
   * environment in the platform charset, which under the C locale of many containers turns every
   * non-ASCII byte into U+FFFD; elsewhere (no /proc) System.getenv.
   */
  static Map<String, String> processEnvironment() {
    byte[] raw;
    try {
      raw = Files.readAllBytes(Path.of("/proc/self/environ"));
    } catch (IOException | UnsupportedOperationException e) {
      return System.getenv();
    }
    Map<String, String> env = new HashMap<>();
    int start = 0;
    for (int i = 0; i <= raw.length; i++) {
      if (i == raw.length || raw[i] == 0) {
        String entry = new String(raw, start, i - start, StandardCharsets.UTF_8);
        int eq = entry.indexOf('=');
        if (eq > 0) {
          env.putIfAbsent(entry.substring(0, eq), entry.substring(eq + 1)); // Go's Getenv: the first of duplicates
        }
        start = i + 1;
      }
    }
    return env;
  }
}
