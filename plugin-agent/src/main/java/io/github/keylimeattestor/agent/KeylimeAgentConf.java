package io.github.keylimeattestor.agent;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Reads {@code uuid} from the {@code [agent]} table of rust-keylime's agent.conf (TOML). Only what
 * that key needs: table headers, {@code key = "string"} / {@code 'string'} lines and comments.
 */
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
    String table = "";
    int lineNo = 0;
    for (String raw : new String(bytes, StandardCharsets.UTF_8).split("\r?\n", -1)) {
      lineNo++;
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      if (line.startsWith("[")) {
        int end = line.indexOf(']');
        table = end < 0 ? "" : line.substring(1, end).strip();
        continue;
      }
      int eq = line.indexOf('=');
      if (!table.equals("agent") || eq < 0 || !line.substring(0, eq).strip().replace("\"", "").equals("uuid")) {
        continue;
      }
      String value = line.substring(eq + 1).strip();
      char q = value.isEmpty() ? 0 : value.charAt(0);
      int close = q == '"' || q == '\'' ? value.indexOf(q, 1) : -1;
      if (close < 0) {
        throw new IOException(file + " line " + lineNo + ": [agent] uuid is not a quoted string");
      }
      return Optional.of(value.substring(1, close));
    }
    return Optional.empty();
  }
}
