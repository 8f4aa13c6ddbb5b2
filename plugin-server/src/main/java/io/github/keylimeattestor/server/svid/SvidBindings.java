package io.github.keylimeattestor.server.svid;

import io.github.keylimeattestor.tpm.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the NodeAttestor tells the CredentialComposer (two processes of one spire-server): "the AK
 * certified this public key for this agent ID, valid until T". One file per (agent ID, SPKI) pair in
 * a private directory (0700, files 0600), named by SHA-256 over both, written to a temporary file
 * and renamed into place: concurrent attestations never see a half-written record, and two
 * attestations that certify the same pair write the same record. Nothing is consumed on reading
 * (spire-server signs one agent SVID per AttestAgent, and a record only says that key was certified),
 * so readers never race; records expire and are swept when new ones are written (at most once per
 * {@link #SWEEP_INTERVAL} per directory).
 *
 * <p>Several spire-servers: AttestAgent runs the NodeAttestor and signs the SVID in the same server,
 * so each server needs only its own local directory (servers on one host may share one: records are
 * content-addressed). Format: {@code v1\n<expiry epoch ms>\n<spiffe id>\n<base64 SPKI>\n<key id>\n}.
 */
public final class SvidBindings {
  static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
  static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
  static final String SUFFIX = ".binding";
  private static final int MAX_RECORD = 4096;

  /**
   * A write sweeps the directory only if the last sweep of it in this JVM is at least this old by
   * the writer's clock: a sweep reads every record, so sweeping on every write of a boot storm is
   * quadratic. Expired records are refused when read whether swept or not.
   */
  static final Duration SWEEP_INTERVAL = Duration.ofSeconds(1);

  /** When each directory was last swept (epoch ms); per directory, as writers make a new instance per attestation. */
  private static final ConcurrentHashMap<Path, AtomicLong> LAST_SWEEP = new ConcurrentHashMap<>();

  private final Path dir;
  private final AtomicLong lastSweep;

  public SvidBindings(Path dir) {
    this.dir = dir;
    this.lastSweep = LAST_SWEEP.computeIfAbsent(dir.toAbsolutePath().normalize(), d -> new AtomicLong(Long.MIN_VALUE));
  }

  public Path dir() {
    return dir;
  }

  /** A problem with the directory's ownership or mode (Validate/Configure), if any. */
  public static Optional<String> checkPrivate(String key, Path dir) {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return Optional.empty(); // created 0700 on first write
    }
    try {
      if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
        return Optional.of(key + ": " + dir + " is not a directory");
      }
      Set<PosixFilePermission> mode = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
      if (!DIR_MODE.equals(mode)) {
        return Optional.of(key + ": " + dir + " has mode " + PosixFilePermissions.toString(mode)
            + "; it must be private to spire-server (chmod 0700)");
      }
      // a 0700 directory another user made would let that user write the records the composer trusts
      int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
      int me = io.github.keylimeattestor.keylime.KeyFilePermissions.effectiveUid();
      if (me >= 0 && owner != me && owner != 0) {
        return Optional.of(key + ": " + dir + " belongs to uid " + owner + ", not to spire-server's (uid " + me
            + ") or root: another user could write the records the composer trusts; chown it, or remove it (the "
            + "plugin creates it 0700)");
      }
    } catch (IOException e) {
      return Optional.of(key + ": cannot inspect " + dir + ": " + e.getMessage());
    }
    return Optional.empty();
  }

  /**
   * The directory stopped being private after Configure checked it (chmod, chown, or replaced):
   * its records are not written, nor trusted when read.
   */
  public static final class NotPrivateException extends IOException {
    private static final long serialVersionUID = 1L;

    NotPrivateException(String problem) {
      super(problem);
    }
  }

  /** Checked on every write and read, not only at Configure: a few stat calls, against forged records. */
  private void requirePrivate() throws NotPrivateException {
    Optional<String> problem = checkPrivate("svid_binding_directory", dir);
    if (problem.isPresent()) {
      throw new NotPrivateException(problem.get());
    }
  }

  /** Records that {@code spki} was certified for {@code spiffeId} until {@code expiry}. */
  public void record(String spiffeId, byte[] spki, String keyId, Instant expiry, Instant now) throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(DIR_MODE));
    }
    requirePrivate();
    String body = "v1\n" + expiry.toEpochMilli() + "\n" + spiffeId + "\n" + Base64.getEncoder().encodeToString(spki)
        + "\n" + keyId + "\n";
    Path target = dir.resolve(name(spiffeId, spki));
    Path tmp = Files.createTempFile(dir, ".rec", ".tmp", PosixFilePermissions.asFileAttribute(FILE_MODE));
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE);
          OutputStream out = Channels.newOutputStream(ch)) {
        out.write(body.getBytes(StandardCharsets.UTF_8));
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
    sweepIfDue(now);
  }

  /** Sweeps unless this directory was swept less than {@link #SWEEP_INTERVAL} before {@code now}; true if it swept. */
  boolean sweepIfDue(Instant now) {
    long at = now.toEpochMilli();
    long last = lastSweep.get();
    // a clock set back by more than the interval counts as due; writers a few ms out of order do not
    boolean due = last == Long.MIN_VALUE || Math.abs(at - last) >= SWEEP_INTERVAL.toMillis();
    if (!due || !lastSweep.compareAndSet(last, at)) {
      return false; // swept recently, or another writer is sweeping now
    }
    sweep(now);
    return true;
  }

  /** The key ID of a record that says {@code spki} was certified for {@code spiffeId} and has not expired. */
  public Optional<String> certified(String spiffeId, byte[] spki, Instant now) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return Optional.empty(); // nothing recorded yet
    }
    requirePrivate();
    Path f = dir.resolve(name(spiffeId, spki));
    byte[] raw;
    try (InputStream in = Files.newInputStream(f, LinkOption.NOFOLLOW_LINKS)) {
      raw = in.readNBytes(MAX_RECORD);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    List<String> lines = List.of(new String(raw, StandardCharsets.UTF_8).split("\n", -1));
    if (lines.size() != 6 || !lines.get(0).equals("v1")) {
      return Optional.empty();
    }
    long expiry;
    try {
      expiry = Long.parseLong(lines.get(1));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
    boolean same = lines.get(2).equals(spiffeId)
        && MessageDigest.isEqual(lines.get(3).getBytes(StandardCharsets.US_ASCII),
            Base64.getEncoder().encodeToString(spki).getBytes(StandardCharsets.US_ASCII));
    if (!same || now.toEpochMilli() > expiry) {
      return Optional.empty();
    }
    return Optional.of(lines.get(4));
  }

  /** Removes expired records (best effort: another server may sweep at the same time). */
  void sweep(Instant now) {
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
      for (Path f : files) {
        try {
          List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
          if (lines.size() < 2 || Long.parseLong(lines.get(1)) < now.toEpochMilli()) {
            Files.deleteIfExists(f);
          }
        } catch (IOException | NumberFormatException e) {
          // gone already, or being replaced: the next sweep sees it again
        }
      }
    } catch (IOException e) {
      // the directory is read again at the next write
    }
  }

  /** SHA-256 of a SubjectPublicKeyInfo, hex: how logs name a key. */
  public static String spkiHash(byte[] spki) {
    return Sha256.hex(spki);
  }

  static String name(String spiffeId, byte[] spki) {
    return Sha256.hex(spiffeId.getBytes(StandardCharsets.UTF_8), new byte[] {0}, spki) + SUFFIX;
  }
}
