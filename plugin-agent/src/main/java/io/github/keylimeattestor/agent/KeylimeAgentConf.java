package io.github.keylimeattestor.agent;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.github.keylimeattestor.sdk.BoundedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Reads {@code uuid} from the {@code [agent]} table of rust-keylime's config (TOML, read with Jackson)
 * from the files rust-keylime itself reads. Named by one of its default locations, that is all of
 * them, each optional, the last {@code uuid} winning: /usr/etc/keylime/agent.conf, every regular file
 * in /usr/etc/keylime/agent.conf.d/ in byte order of its name (its glob's order), then the same for
 * /etc/keylime (rust-keylime's {@code load_default_locations}). Named by any other path, that file
 * alone: rust-keylime reads another file only as {@code KEYLIME_AGENT_CONFIG}, and then no other.
 */
final class KeylimeAgentConf {
  static final Path SYS_CONFIG = Path.of("/usr/etc/keylime/agent.conf");
  static final Path CONFIG = Path.of("/etc/keylime/agent.conf");
  private static final int MAX_BYTES = 1 << 20;
  private static final TomlMapper TOML = new TomlMapper();

  private KeylimeAgentConf() {}

  /**
   * The value of {@code [agent] uuid} (a UUID, "hash_ek" or "generate") and the file that set it. A UUID
   * is in the form rust-keylime registers it: it reads the value with Rust's {@code Uuid::parse_str}
   * (hyphenated, 32 hex digits, {@code {...}} or {@code urn:uuid:...}; hex digits in either case, the
   * prefix in lower case) and registers its
   * lower-case hyphenated form.
   */
  record Uuid(String value, Path file) {}

  private static final java.util.regex.Pattern HYPHENATED = java.util.regex.Pattern.compile(
      "(urn:uuid:|\\{)?((?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(\\})?");
  private static final java.util.regex.Pattern SIMPLE = java.util.regex.Pattern.compile("(?i)[0-9a-f]{32}");

  /** {@code value} as rust-keylime registers it if it is a UUID in a form Rust's parser takes; else unchanged. */
  static String asKeylimeRegistersIt(String value) {
    java.util.regex.Matcher m = HYPHENATED.matcher(value);
    if (m.matches()) {
      String prefix = m.group(1) == null ? "" : m.group(1);
      boolean braced = prefix.equals("{");
      if (braced == (m.group(3) != null)) { // Rust's parser takes the urn: prefix in lower case only
        return m.group(2).toLowerCase(java.util.Locale.ROOT);
      }
      return value;
    }
    if (SIMPLE.matcher(value).matches()) {
      String v = value.toLowerCase(java.util.Locale.ROOT);
      return v.substring(0, 8) + "-" + v.substring(8, 12) + "-" + v.substring(12, 16) + "-" + v.substring(16, 20)
          + "-" + v.substring(20);
    }
    return value;
  }

  /** The uuid the Keylime agent reads from {@code file} (and its default locations); empty if none sets one. */
  static Optional<Uuid> uuid(Path file) throws IOException {
    return uuid(file, SYS_CONFIG, CONFIG);
  }

  /** As {@link #uuid(Path)}, with rust-keylime's two default files at {@code sysConfig} and {@code config}. */
  static Optional<Uuid> uuid(Path file, Path sysConfig, Path config) throws IOException {
    if (!isOneOf(file, sysConfig, config)) {
      return uuidIn(file);
    }
    List<Path> files = new ArrayList<>();
    for (Path conf : List.of(sysConfig, config)) {
      if (Files.exists(conf)) {
        files.add(conf);
      }
      Path dropIns = dropIns(conf);
      if (Files.isDirectory(dropIns)) {
        try (Stream<Path> s = Files.list(dropIns)) {
          // UnixPath orders by the bytes of the name, unsigned, as rust-keylime's glob does
          s.filter(Files::isRegularFile).sorted(Comparator.comparing(Path::getFileName)).forEach(files::add);
        } catch (java.io.UncheckedIOException e) {
          throw new IOException("cannot list " + dropIns + ": " + e.getCause().getMessage(), e.getCause());
        }
      }
    }
    if (files.isEmpty()) {
      throw new IOException("none of " + sources(file) + " exists: is the Keylime agent installed on this node?");
    }
    Optional<Uuid> found = Optional.empty();
    for (Path f : files) {
      Optional<Uuid> u = uuidIn(f);
      if (u.isPresent()) {
        found = u;
      }
    }
    return found;
  }

  /** What {@link #uuid(Path)} reads for {@code file}, for messages. */
  static String sources(Path file) {
    if (!isOneOf(file, SYS_CONFIG, CONFIG)) {
      return file.toString();
    }
    return SYS_CONFIG + ", " + dropIns(SYS_CONFIG) + "/, " + CONFIG + " and " + dropIns(CONFIG) + "/";
  }

  private static boolean isOneOf(Path file, Path sysConfig, Path config) {
    Path named = file.normalize();
    return named.equals(sysConfig) || named.equals(config);
  }

  private static Path dropIns(Path conf) {
    return conf.resolveSibling(conf.getFileName() + ".d");
  }

  private static Optional<Uuid> uuidIn(Path file) throws IOException {
    byte[] bytes;
    try {
      bytes = BoundedFiles.readAtMost(file, MAX_BYTES);
    } catch (BoundedFiles.NotARegularFileException e) {
      throw new IOException(e.getMessage() + ": is it the Keylime agent's agent.conf?", e);
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
    return Optional.of(new Uuid(asKeylimeRegistersIt(uuid.textValue()), file));
  }
}
