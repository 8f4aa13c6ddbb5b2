package io.github.keylimeattestor.server.trust;

import io.github.keylimeattestor.sdk.hcl.HclConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The operator's trust controls in the server plugin's {@code plugin_data}: who may join beyond
 * "the verifier enrolled it" (plugin-server/README.md, "Trust controls").
 *
 * @param ekAllowList {@code ek_hash_allow_list}: a file of EK hashes, or a directory of files named by hash
 * @param requiredMetaData {@code required_meta_data}: key/values the verifier's meta_data must hold
 * @param requireIntegrityPolicy {@code require_integrity_policy}: refuse a node Keylime checks nothing for
 * @param ekBindingSocket {@code ek_binding.spire_server_socket}: spire-server's admin socket, read to keep
 *     an agent ID on the EK it first attested with and a TPM on one agent ID
 */
public record TrustConfig(Optional<Path> ekAllowList, Map<String, String> requiredMetaData,
    boolean requireIntegrityPolicy, Optional<Path> ekBindingSocket) {

  public static final TrustConfig NONE = new TrustConfig(Optional.empty(), Map.of(), false, Optional.empty());
  public static final String DEFAULT_SOCKET = "/tmp/spire-server/private/api.sock";

  public TrustConfig {
    requiredMetaData = Map.copyOf(requiredMetaData);
  }

  /** Reads the keys from {@code c}; problems are recorded on it (reported by its throwIfProblems). */
  public static TrustConfig parse(HclConfig c) {
    Optional<Path> allow = Optional.empty();
    String list = c.optString("ek_hash_allow_list", "");
    if (c.has("ek_hash_allow_list")) {
      Path p = Path.of(list);
      if (list.isBlank() || !Files.exists(p)) {
        c.problem(c.name("ek_hash_allow_list") + ": no such file or directory '" + list + "' (a file of EK hashes, one "
            + "per line, or a directory of files named by EK hash)");
      } else if (!Files.isReadable(p)) {
        c.problem(c.name("ek_hash_allow_list") + ": " + p + " is not readable by this user");
      } else {
        allow = Optional.of(p);
      }
    }
    Map<String, String> meta = new LinkedHashMap<>();
    HclConfig m = c.block("required_meta_data");
    for (String k : m.keys()) {
      String v = m.optString(k, null);
      if (v == null) {
        continue; // the wrong type is recorded by optString
      }
      meta.put(k, v);
    }
    boolean requirePolicy = c.optBool("require_integrity_policy", false);
    Optional<Path> socket = Optional.empty();
    if (c.has("ek_binding")) {
      HclConfig b = c.block("ek_binding");
      String s = b.optString("spire_server_socket", DEFAULT_SOCKET);
      if (!s.startsWith("/")) {
        b.problem(b.name("spire_server_socket") + " must be an absolute path (spire-server's socket_path), not '" + s
            + "'");
      } else {
        socket = Optional.of(Path.of(s));
      }
      b.rejectUnknownKeys();
    }
    return new TrustConfig(allow, meta, requirePolicy, socket);
  }
}
