package io.github.keylimeattestor.keylime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * ssh's rule for private key files: the file must belong to this process's user (or root) and
 * nobody else may read or write it (mode 0600 or 0400). Applied to TLS client keys and the TPM key
 * blobs the plugins keep; a key that others could read or replace is refused with the chmod/chown
 * that fixes it. A symbolic link is followed: the rule holds for the file it names.
 */
public final class KeyFilePermissions {
  private static final Set<PosixFilePermission> GROUP_OR_OTHERS = EnumSet.of(
      PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);
  private static final Set<PosixFilePermission> WRITE_BY_OTHERS =
      EnumSet.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);

  private KeyFilePermissions() {}

  /**
   * Refuses {@code file} (named {@code what} in the message, e.g. {@code tls.client_key}) unless it
   * is owned by this process's user or root and has no group or other permission bits.
   */
  public static void checkPrivate(Path file, String what) throws IOException {
    Set<PosixFilePermission> perms = permissions(file, what);
    if (perms == null) {
      return;
    }
    checkOwner(file, what);
    if (!java.util.Collections.disjoint(perms, GROUP_OR_OTHERS)) {
      throw new IOException(what + " " + file + " has mode " + PosixFilePermissions.toString(perms)
          + ": a private key must not be accessible by group or others; run: chmod 600 " + file);
    }
  }

  /**
   * {@link #checkPrivate} for a file named as something else (e.g. {@code tls.client_cert}) that also
   * holds a private key, as combined PEM files do: a key is a key whichever setting names its file.
   */
  public static void checkPrivateIfItHoldsAKey(Path file, String what) throws IOException {
    byte[] head;
    try (var in = Files.newInputStream(file)) {
      head = in.readNBytes((1 << 20) + 1);
    } catch (NoSuchFileException e) {
      return;
    }
    // PEM files are small: one past 1 MiB is held to the key rule unread, a key after the first MiB included
    if (head.length > 1 << 20 || new String(head, java.nio.charset.StandardCharsets.US_ASCII).contains("PRIVATE KEY-----")) {
      checkPrivate(file, what);
    }
  }

  /**
   * The weaker rule for files another program writes for us (the Keylime agent's agent_data.json):
   * owned by anyone, but writable only by its owner, so that nobody else can swap the key it holds.
   */
  public static void checkNotWritableByOthers(Path file, String what) throws IOException {
    Set<PosixFilePermission> perms = permissions(file, what);
    if (perms != null && !java.util.Collections.disjoint(perms, WRITE_BY_OTHERS)) {
      throw new IOException(what + " " + file + " has mode " + PosixFilePermissions.toString(perms)
          + ": it holds a TPM key and must not be writable by group or others; run: chmod go-w " + file);
    }
  }

  /**
   * A directory that holds private key files: owned by this process's user or root, and writable by
   * neither group nor others, who could otherwise put a key of theirs in place of ours.
   */
  public static void checkDirectoryNotWritableByOthers(Path dir, String what) throws IOException {
    Set<PosixFilePermission> perms = permissions(dir, what);
    if (perms == null) {
      return;
    }
    checkOwner(dir, what);
    if (!java.util.Collections.disjoint(perms, WRITE_BY_OTHERS)) {
      throw new IOException(what + " " + dir + " has mode " + PosixFilePermissions.toString(perms)
          + ": others could replace the keys in it; run: chmod go-w " + dir);
    }
  }

  /**
   * Null where the file system has no POSIX permissions, or the file is missing (the caller's read
   * reports that in its own words).
   */
  private static Set<PosixFilePermission> permissions(Path file, String what) throws IOException {
    try {
      return Files.getPosixFilePermissions(file);
    } catch (UnsupportedOperationException | NoSuchFileException e) {
      return null;
    }
  }

  private static void checkOwner(Path file, String what) throws IOException {
    int owner;
    try {
      owner = (Integer) Files.getAttribute(file, "unix:uid");
    } catch (UnsupportedOperationException | IllegalArgumentException e) {
      return;
    }
    int me = effectiveUid();
    if (me >= 0 && owner != me && owner != 0) {
      String user = Files.getOwner(file).getName();
      throw new IOException(what + " " + file + " belongs to " + user + " (uid " + owner + "), not to this process's "
          + "user (uid " + me + ") or root: another user could replace the key; run: chown " + me + " " + file);
    }
  }

  /** This process's effective uid (the owner of /proc/self), or -1 where there is no /proc. */
  public static int effectiveUid() {
    try {
      return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid", new LinkOption[0]);
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return -1;
    }
  }
}
