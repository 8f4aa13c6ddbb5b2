package io.github.keylimeattestor.agent;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/** How the agent plugin stores a TPM key blob: whole or not at all, and still there after a power loss. */
final class KeyBlobFile {
  private static final io.github.keylimeattestor.sdk.log.Log LOG =
      io.github.keylimeattestor.sdk.log.Log.named("keylime.agent").child("key_file");

  private KeyBlobFile() {}

  /**
   * A 0600 temporary file in the target's directory, synced, renamed over the target, then the
   * directory synced: without that last step a power loss can undo the rename, leaving the old key
   * while SPIRE holds an SVID for the new one.
   */
  static void writeAtomically(Path target, byte[] bytes) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
          OutputStream out = Channels.newOutputStream(ch)) {
        out.write(bytes);
        out.flush();
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      // the new blob is in place now: a failed directory sync costs only its survival of a power loss,
      // and failing here would have the caller keep the old key in memory while the file holds the new one
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        d.force(true);
      } catch (IOException e) {
        LOG.warn("cannot sync the directory of a key blob just written: a power loss may undo the write",
            "path", target.toString(), "error", e.toString());
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
