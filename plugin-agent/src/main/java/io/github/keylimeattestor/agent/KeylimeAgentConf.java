package io.github.keylimeattestor.agent;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Reads {@code uuid} from the {@code [agent]} table of rust-keylime's agent.conf (TOML, read with
 * Jackson) and of its drop-in directory {@code <agent.conf>.d/}, as rust-keylime does: the file, then
 * every regular file in the directory in byte order of its name, each parsed as TOML and the last one
 * that sets {@code uuid} winning (rust-keylime's {@code load_default_locations}: agent.conf, then
 * agent.conf.d/*).
 */
final class KeylimeAgentConf {
  private static final int MAX_BYTES = 1 << 20;
  private static final TomlMapper TOML = new TomlMapper();
  private static final Comparator<Path> BY_NAME_BYTES = (a, b) -> Arrays.compareUnsigned(
      a.getFileName().toString().getBytes(StandardCharsets.UTF_8),
      b.getFileName().toString().getBytes(StandardCharsets.UTF_8));

  private KeylimeAgentConf() {}

  /** The raw value of {@code [agent] uuid} (a UUID, "hash_ek" or "generate") and the file that set it. */
  record Uuid(String value, Path file) {}

  /** The uuid {@code file} and its drop-ins set; empty if none of them sets one. */
  static Optional<Uuid> uuid(Path file) throws IOException {
    Optional<Uuid> found = uuidIn(file);
    Path dropIns = file.resolveSibling(file.getFileName() + ".d");
    if (Files.isDirectory(dropIns)) {
      List<Path> files;
      try (Stream<Path> s = Files.list(dropIns)) {
        files = s.filter(Files::isRegularFile).sorted(BY_NAME_BYTES).toList();
      }
      for (Path f : files) {
        Optional<Uuid> u = uuidIn(f);
        if (u.isPresent()) {
          found = u;
        }
      }
    }
    return found;
  }

  private static Optional<Uuid> uuidIn(Path file) throws IOException {
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
    return Optional.of(new Uuid(uuid.textValue(), file));
  }
}
