package io.github.keylimeattestor.server.trust;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The EK hashes allowed to join ({@code ek_hash_allow_list}), read at every attestation so that
 * adding or removing a node needs no restart. Either a directory holding one (empty) file per
 * allowed node, named by its EK hash, as spire-tpm-plugin's {@code hash_path}; or a file with one
 * hash per line, its first word ({@code #} comments and blank lines ignored; so sha256sum's output
 * serves). The hash is the {@code keylime:ek_hash:} selector value: lower-case hex SHA-256 of the
 * EK's SubjectPublicKeyInfo DER.
 */
final class EkAllowList {
  private EkAllowList() {}

  /** Whether {@code ekHash} (64 lower-case hex digits) is listed. */
  static boolean allows(Path list, String ekHash) throws IOException {
    if (!ekHash.matches("[0-9a-f]{64}")) {
      return false;
    }
    if (Files.isDirectory(list)) {
      return Files.isRegularFile(list.resolve(ekHash)) || Files.isRegularFile(list.resolve(ekHash.toUpperCase(Locale.ROOT)));
    }
    // ISO-8859-1 maps every byte: a comment in another encoding does not make the whole list unreadable
    for (String line : Files.readAllLines(list, StandardCharsets.ISO_8859_1)) {
      int hash = line.indexOf('#');
      // the first word only: a line of sha256sum's output ("<hash>  -", "<hash> *ek.der") counts as its hash
      String[] words = (hash >= 0 ? line.substring(0, hash) : line).strip().split("\\s+", 2);
      if (words[0].toLowerCase(Locale.ROOT).equals(ekHash)) {
        return true;
      }
    }
    return false;
  }
}
