package io.github.keylimeattestor.agent;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Reads {@code uuid} from the {@code [agent]} table of rust-keylime's agent.conf (TOML, read with Jackson). */
final class KeylimeAgentConf {
  private static final int MAX_BYTES = 1 << 20;
  private static final TomlMapper TOML = new TomlMapper();

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
    JsonNode root;
    try {
      root = TOML.readTree(bytes);
    } catch (JacksonException e) {
      throw new IOException(file + " is not valid TOML: " + e.getOriginalMessage(), e);
    }
    JsonNode uuid = root == null ? null : root.path("agent").get("uuid");
    if (uuid == null) {
      return Optional.empty();
    }
    if (!uuid.isTextual()) {
      throw new IOException(file + ": [agent] uuid is not a quoted string");
    }
    return Optional.of(uuid.textValue());
  }
}
