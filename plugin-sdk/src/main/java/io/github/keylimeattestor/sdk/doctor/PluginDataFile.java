package io.github.keylimeattestor.sdk.doctor;

import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.hcl.HclParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The {@code plugin_data} that {@code doctor --config <file>} checks: the file is either a SPIRE
 * agent/server configuration (its {@code plugins { NodeAttestor "keylime" { plugin_data {...} } }}
 * or {@code plugin_data_file}), or a bare plugin_data body. The result is HCL text as SPIRE
 * re-prints it to the plugin, so the plugin's own parser reads it exactly as at Configure.
 */
public record PluginDataFile(String pluginData, String trustDomain, String source) {

  public static PluginDataFile read(Path file, String pluginName) throws IOException, HclException {
    String text = Files.readString(file);
    Map<String, Object> body = HclParser.parse(text);
    if (!body.containsKey("plugins")) {
      return new PluginDataFile(text, null, file + " (a plugin_data body)");
    }
    String trustDomain = trustDomain(body);
    Object attestors = map(body.get("plugins"), "plugins").get("NodeAttestor");
    for (Object one : attestors instanceof List<?> l ? l : List.of(attestors == null ? Map.of() : attestors)) {
      Object mine = map(one, "plugins.NodeAttestor").get(pluginName);
      if (mine == null) {
        continue;
      }
      Map<String, Object> plugin = map(mine, "NodeAttestor \"" + pluginName + "\"");
      if (plugin.get("plugin_data_file") instanceof String f) {
        Path data = file.resolveSibling(f);
        return new PluginDataFile(Files.readString(Path.of(f).isAbsolute() ? Path.of(f) : data), trustDomain,
            "plugin_data_file " + f);
      }
      Object data = plugin.get("plugin_data");
      return new PluginDataFile(data == null ? "" : HclPrinter.print(map(data, "plugin_data")), trustDomain,
          file + ", NodeAttestor \"" + pluginName + "\" plugin_data");
    }
    throw new HclException(file + " has a plugins block but no NodeAttestor \"" + pluginName + "\" in it");
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
