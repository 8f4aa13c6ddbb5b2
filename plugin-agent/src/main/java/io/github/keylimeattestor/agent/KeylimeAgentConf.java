package io.github.keylimeattestor.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/** Reads {@code uuid} from the {@code [agent]} table of rust-keylime's agent.conf (TOML, read by {@link Toml}). */
final class KeylimeAgentConf {
  private static final int MAX_BYTES = 1 << 20;

  private KeylimeAgentConf() {}

  /** The raw value of {@code [agent] uuid}: a UUID, "hash_ek" or "generate"; empty if not set. */
  static Optional<String> uuid(Path file) throws IOException {
    byte[] bytes;
    try (var in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    }
    if (bytes.length > MAX_BYTES) {
      throw new IOException(file + " is larger than 1 MiB: is it the Keylime agent's agent.conf?");
    }
    Map<String, Object> root;
    try {
      root = Toml.parse(bytes);
    } catch (Toml.SyntaxException e) {
      throw new IOException(file + " is not valid TOML: " + e.getMessage(), e);
    }
    Object uuid = root.get("agent") instanceof Map<?, ?> agent ? agent.get("uuid") : null;
    if (uuid == null) {
      return Optional.empty();
    }
    if (!(uuid instanceof String s)) {
      throw new IOException(file + ": [agent] uuid is not a quoted string");
    }
    return Optional.of(s);
  }
}
