package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.keylime.KeyFilePermissions;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The directory the TPM KeyManager keeps its keys in and the NodeAttestor reads them from: one TPM
 * key blob per key ID, {@code <key_id>.tpmkey} (mode 0600, written atomically), in a 0700 directory.
 * A blob is only usable in the TPM that made it, under that TPM's storage primary.
 */
final class SvidKeyDirectory {
  static final String SUFFIX = ".tpmkey";
  /** SPIRE's IDs are "agent-svid-A" / "agent-svid-B"; anything that is a safe file name is accepted. */
  static final Pattern KEY_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  /** More blobs than this in the directory is not a KeyManager's doing: the NodeAttestor refuses. */
  static final int MAX_KEYS = 8;
  private static final Log LOG = Log.named("keylime.keymanager");

  private final Path dir;
  /** The plugin_data key that names the directory, for messages: the KeyManager's and the NodeAttestor's differ. */
  private final String setting;

  /** The NodeAttestor's {@code svid_key_directory}. */
  SvidKeyDirectory(Path dir) {
    this(dir, "svid_key_directory");
  }

  SvidKeyDirectory(Path dir, String setting) {
    this.dir = dir;
    this.setting = setting;
  }

  Path dir() {
    return dir;
  }

  static boolean validId(String keyId) {
    return KEY_ID.matcher(keyId).matches();
  }

  /**
   * A blob or the directory is not private to spire-agent's user: anyone else who may use the TPM
   * could load a blob they can read (the keys have no password), or put their own key in its place.
   */
  static final class UnsafeKeyFileException extends IOException {
    private static final long serialVersionUID = 1L;

    UnsafeKeyFileException(IOException why) {
      super(why.getMessage(), why);
    }
  }

  /**
   * Every key blob, by key ID (sorted). A file that is no key blob is logged and skipped; one that
   * cannot be read is an error naming it (skipped, its key would silently be made again); one that
   * is not private, or a directory others may write, is an {@link UnsafeKeyFileException}.
   */
  Map<String, KeyBlob> readAll() throws IOException {
    Map<String, KeyBlob> out = new TreeMap<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    checkDirectory();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        String id = name.substring(0, name.length() - SUFFIX.length());
        if (!validId(id) || !Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        try {
          KeyFilePermissions.checkPrivate(f, "SVID key blob");
        } catch (IOException e) {
          throw new UnsafeKeyFileException(e);
        }
        try (InputStream in = Files.newInputStream(f, LinkOption.NOFOLLOW_LINKS)) {
          out.put(id, KeyBlob.parse(in.readNBytes(KeyBlob.DEFAULT_LIMIT + 1), KeyBlob.DEFAULT_LIMIT));
        } catch (TpmFormatException e) {
          LOG.warn("ignoring a file that is not a TPM key blob", "path", f.toString(), "error", e.getMessage());
        } catch (IOException e) {
          throw new IOException("cannot read the key blob " + f + " (" + e + "): spire-agent's user must be able"
              + " to read every *" + SUFFIX + " file in it", e);
        }
      }
    }
    return out;
  }

  /** Writes the blob of {@code keyId} atomically (KeyBlobFile). */
  void write(String keyId, KeyBlob blob) throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    checkDirectory();
    KeyBlobFile.writeAtomically(dir.resolve(keyId + SUFFIX), blob.marshal());
  }

  private void checkDirectory() throws UnsafeKeyFileException {
    try {
      KeyFilePermissions.checkDirectoryNotWritableByOthers(dir, setting);
    } catch (IOException e) {
      throw new UnsafeKeyFileException(e);
    }
  }

  void delete(String keyId) throws IOException {
    Files.deleteIfExists(dir.resolve(keyId + SUFFIX));
  }
}
