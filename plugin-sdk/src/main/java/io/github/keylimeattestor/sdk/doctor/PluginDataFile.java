package io.github.keylimeattestor.sdk.doctor;

import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.hcl.HclParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The {@code plugin_data} that {@code doctor --config <file>} checks: the file is either a SPIRE
 * agent/server configuration (its {@code plugins { NodeAttestor "keylime" { plugin_data {...} } }}
 * or {@code plugin_data_file}), or a bare plugin_data body. The result is HCL text as SPIRE
 * re-prints it to the plugin, so the plugin's own parser reads it exactly as at Configure.
 * {@code fromSpireConfiguration} is false for a bare body: then no other plugin block can be read.
 */
public record PluginDataFile(String pluginData, String trustDomain, String source, boolean fromSpireConfiguration) {

  /** Longest SPIRE configuration file read (SPIRE's own have no limit; the plugin_data in it keeps its own). */
  static final int MAX_CONFIG_FILE = 1024 * 1024;
  /** The same after {@code -expandEnv}: the file's limit plus Linux's whole environment (ARG_MAX, 2 MiB by default). */
  static final int MAX_EXPANDED_CONFIG = 4 * MAX_CONFIG_FILE;

  public static PluginDataFile read(Path file, String pluginName) throws IOException, HclException {
    return read(file, pluginName, null);
  }

  /** {@code env} non-null: the file's text expanded first, as SPIRE's {@code -expandEnv} does ({@link SpireEnvExpansion}). */
  public static PluginDataFile read(Path file, String pluginName, UnaryOperator<String> env)
      throws IOException, HclException {
    Optional<PluginDataFile> found = find(file, "NodeAttestor", pluginName, env);
    if (found.isEmpty()) {
      throw new HclException(file + " has a plugins block but no NodeAttestor \"" + pluginName + "\" in it");
    }
    return found.get();
  }

  /** A configuration file, up to {@link #MAX_CONFIG_FILE} bytes (BoundedFiles: no FIFO or device). */
  private static String readBounded(Path file) throws IOException, HclException {
    byte[] bytes;
    try {
      bytes = io.github.keylimeattestor.sdk.BoundedFiles.readAtMost(file, MAX_CONFIG_FILE);
    } catch (io.github.keylimeattestor.sdk.BoundedFiles.NotARegularFileException e) {
      throw new HclException(e.getMessage());
    }
    if (bytes.length > MAX_CONFIG_FILE) {
      throw new HclException(file + " is larger than " + MAX_CONFIG_FILE + " bytes");
    }
    return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
  }

  /**
   * The plugin_data of the {@code pluginType} block named {@code pluginName} in a SPIRE configuration;
   * empty if it has none. A file that is a plugin_data body, not a SPIRE configuration, is taken for
   * the NodeAttestor's.
   */
  public static Optional<PluginDataFile> find(Path file, String pluginType, String pluginName, UnaryOperator<String> env)
      throws IOException, HclException {
    String read = readBounded(file);
    String text = env == null ? read : SpireEnvExpansion.expand(read, env);
    // SPIRE reads a configuration that starts with '{' as JSON (HCL v1 does), e.g. the Helm charts' agent.conf
    Map<String, Object> body = text.stripLeading().startsWith("{") ? io.github.keylimeattestor.sdk.hcl.JsonConfig.parse(text, file)
        : HclParser.parse(text, env == null ? MAX_CONFIG_FILE : MAX_EXPANDED_CONFIG);
    if (!body.containsKey("plugins")) {
      return pluginType.equals("NodeAttestor") ? Optional.of(new PluginDataFile(text, null, file + " (a plugin_data body)", false))
          : Optional.empty();
    }
    String trustDomain = trustDomain(body);
    List<Object> blocks = new java.util.ArrayList<>();
    for (Object plugins : asList(body.get("plugins"))) { // a block, or in JSON also a list of them
      blocks.addAll(asList(map(plugins, "plugins").get(pluginType)));
    }
    for (Object one : blocks) {
      Object mine = map(one, "plugins." + pluginType).get(pluginName);
      if (mine == null) {
        continue;
      }
      Map<String, Object> plugin = map(mine, pluginType + " \"" + pluginName + "\"");
      if (plugin.get("plugin_data_file") instanceof String f) {
        // as SPIRE: a relative path is read from the working directory, not from the configuration's directory
        return Optional.of(new PluginDataFile(readBounded(Path.of(f)), trustDomain, "plugin_data_file " + f
            + (Path.of(f).isAbsolute() ? "" : " (relative: read from the current directory, as spire reads it from its "
                + "working directory)"), true));
      }
      Object data = plugin.get("plugin_data");
      return Optional.of(new PluginDataFile(data == null ? "" : HclPrinter.print(map(data, "plugin_data")), trustDomain,
          file + ", " + pluginType + " \"" + pluginName + "\" plugin_data", true));
    }
    return Optional.empty();
  }


  private static List<?> asList(Object o) {
    return o == null ? List.of() : o instanceof List<?> l ? l : List.of(o);
  }

  private static String trustDomain(Map<String, Object> body) {
    for (String section : List.of("agent", "server")) {
      if (body.get(section) instanceof Map<?, ?> m && m.get("trust_domain") instanceof String td) {
        return td;
      }
    }
    return null;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o, String what) throws HclException {
    if (o instanceof Map<?, ?> m) {
      return (Map<String, Object>) m;
    }
    throw new HclException(what + " must be a block");
  }
}
