package io.github.keylimeattestor.server.svid;

import io.github.keylimeattestor.tpm.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
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
  /** A temporary record older than this is a crashed writer's: the sweep removes it. */
  static final java.time.Duration LEFT_OVER_AFTER = java.time.Duration.ofMinutes(1);
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

  /**
   * The directory or a record in it cannot be trusted: not private (any more), replaced while it was
   * opened, or a record not written by spire-server. Nothing is written there, nor read as certified.
   */
  public static final class UntrustedException extends IOException {
    private static final long serialVersionUID = 1L;

    UntrustedException(String problem) {
      super(problem);
    }
  }

  /** A problem with the directory's ownership or mode (Validate/Configure), if any; none if it does not exist yet. */
  public static Optional<String> checkPrivate(String key, Path dir) {
    try {
      privateDirectoryKey(key, dir);
    } catch (NoSuchFileException e) {
      return Optional.empty(); // created 0700 on first write
    } catch (IOException e) {
      return Optional.of(e instanceof UntrustedException ? e.getMessage() : key + ": cannot inspect " + dir + ": " + e);
    }
    return Optional.empty();
  }

  /** One lstat of {@code dir}: its file key if it is a private directory, else why not. */
  private static Object privateDirectoryKey(String key, Path dir) throws IOException {
    Map<String, Object> a = Files.readAttributes(dir, "unix:isDirectory,permissions,uid,fileKey", LinkOption.NOFOLLOW_LINKS);
    if (!(Boolean) a.get("isDirectory")) {
      throw new UntrustedException(key + ": " + dir + " is not a directory");
    }
    @SuppressWarnings("unchecked")
    Set<PosixFilePermission> mode = (Set<PosixFilePermission>) a.get("permissions");
    if (!DIR_MODE.equals(mode)) {
      throw new UntrustedException(key + ": " + dir + " has mode " + PosixFilePermissions.toString(mode)
          + "; it must be private to spire-server: chmod 0700, and remove the records in it (another user could "
          + "have written them while it was open)");
    }
    // a 0700 directory another user made would let that user write the records the composer trusts
    int owner = (Integer) a.get("uid");
    int me = io.github.keylimeattestor.keylime.KeyFilePermissions.effectiveUid();
    if (me >= 0 && owner != me && owner != 0) {
      throw new UntrustedException(key + ": " + dir + " belongs to uid " + owner + ", not to spire-server's (uid " + me
          + ") or root: another user could write the records the composer trusts; remove it (the plugin creates it "
          + "0700)");
    }
    return a.get("fileKey");
  }

  /**
   * The directory, opened once and checked through that handle: the lstat that found it private
   * describes the directory opened (same device and inode), and every read, write, rename and
   * delete after it is relative to the open directory, so swapping the path afterwards changes nothing.
   */
  private SecureDirectoryStream<Path> openPrivate() throws IOException {
    Object checked = privateDirectoryKey("svid_binding_directory", dir);
    DirectoryStream<Path> opened = Files.newDirectoryStream(dir);
    if (!(opened instanceof SecureDirectoryStream<Path> d)) {
      opened.close();
      throw new IOException("this platform opens no SecureDirectoryStream for " + dir);
    }
    try {
      Object open = d.getFileAttributeView(BasicFileAttributeView.class).readAttributes().fileKey();
      if (checked == null || !checked.equals(open)) {
        throw new UntrustedException("svid_binding_directory: " + dir + " was replaced while it was opened");
      }
      return d;
    } catch (IOException | RuntimeException e) {
      d.close();
      throw e;
    }
  }

  /** Records that {@code spki} was certified for {@code spiffeId} until {@code expiry}. */
  public void record(String spiffeId, byte[] spki, String keyId, Instant expiry, Instant now) throws IOException {
    createIfAbsent();
    byte[] body = ("v1\n" + expiry.toEpochMilli() + "\n" + spiffeId + "\n" + Base64.getEncoder().encodeToString(spki)
        + "\n" + keyId + "\n").getBytes(StandardCharsets.UTF_8);
    Path target = Path.of(name(spiffeId, spki));
    try (SecureDirectoryStream<Path> d = openPrivate()) {
      Path tmp = Path.of(".rec" + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
      try {
        try (SeekableByteChannel ch = d.newByteChannel(tmp, Set.<java.nio.file.OpenOption>of(StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), PosixFilePermissions.asFileAttribute(FILE_MODE))) {
          ByteBuffer buf = ByteBuffer.wrap(body);
          while (buf.hasRemaining()) {
            ch.write(buf);
          }
        }
        d.move(tmp, d, target); // rename(2): atomic, replaces the pair's earlier record
      } finally {
        deleteQuietly(d, tmp);
      }
      sweepIfDue(now, d);
    }
  }

  private void createIfAbsent() throws IOException {
    if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Path parent = dir.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent, PosixFilePermissions.asFileAttribute(DIR_MODE));
    }
    try {
      Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(DIR_MODE));
      Files.setPosixFilePermissions(dir, DIR_MODE); // the umask may have taken bits of 0700 away
    } catch (FileAlreadyExistsException e) {
      // another attestation made it first: openPrivate checks it as any other
    }
  }

  /** Sweeps unless this directory was swept less than {@link #SWEEP_INTERVAL} before {@code now}; true if it swept. */
  boolean sweepIfDue(Instant now) throws IOException {
    try (SecureDirectoryStream<Path> d = openPrivate()) {
      return sweepIfDue(now, d);
    } catch (NoSuchFileException e) {
      return claimSweep(now);
    }
  }

  private boolean sweepIfDue(Instant now, SecureDirectoryStream<Path> d) {
    if (!claimSweep(now)) {
      return false;
    }
    sweep(now, d);
    return true;
  }

  private boolean claimSweep(Instant now) {
    long at = now.toEpochMilli();
    long last = lastSweep.get();
    // a clock set back by more than the interval counts as due; writers a few ms out of order do not
    boolean due = last == Long.MIN_VALUE || Math.abs(at - last) >= SWEEP_INTERVAL.toMillis();
    return due && lastSweep.compareAndSet(last, at); // else swept recently, or another writer is sweeping now
  }

  /**
   * The key ID of a record that says {@code spki} was certified for {@code spiffeId} and has not
   * expired. A record that is not a regular file of the directory's owner with mode 0600, or that
   * expires further ahead than any record this plugin writes, was not written by it: refused.
   */
  public Optional<String> certified(String spiffeId, byte[] spki, Instant now) throws IOException {
    SecureDirectoryStream<Path> d;
    try {
      d = openPrivate();
    } catch (NoSuchFileException e) {
      return Optional.empty(); // nothing recorded yet
    }
    try (d) {
      Path f = Path.of(name(spiffeId, spki));
      PosixFileAttributes file;
      try {
        file = d.getFileAttributeView(f, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).readAttributes();
      } catch (NoSuchFileException e) {
        return Optional.empty();
      }
      UserPrincipal owner = d.getFileAttributeView(PosixFileAttributeView.class).readAttributes().owner();
      if (!file.isRegularFile() || !file.owner().equals(owner) || !FILE_MODE.equals(file.permissions())) {
        throw new UntrustedException("svid_binding_directory: record " + dir.resolve(f) + " is not a 0600 file of "
            + owner.getName() + " (" + file.owner().getName() + ", " + PosixFilePermissions.toString(file.permissions())
            + "): spire-server did not write it; remove it");
      }
      Optional<Record> r = read(d, f);
      if (r.isEmpty() || !r.get().spiffeId.equals(spiffeId) || !MessageDigest.isEqual(r.get().spki, spki)
          || now.toEpochMilli() > r.get().expiry) {
        return Optional.empty();
      }
      if (r.get().expiry - now.toEpochMilli() > MAX_LIFETIME.toMillis()) {
        throw new UntrustedException("svid_binding_directory: record " + dir.resolve(f) + " expires "
            + Instant.ofEpochMilli(r.get().expiry) + ", more than " + MAX_LIFETIME.toSeconds() + " s ahead: "
            + "spire-server did not write it (or the clock went back); remove it");
      }
      return Optional.of(r.get().keyId);
    }
  }

  /** Longest a record may have left when read: those this plugin writes have at most 30 s (SvidKeyRecorder). */
  static final Duration MAX_LIFETIME = Duration.ofMinutes(2);

  private record Record(long expiry, String spiffeId, byte[] spki, String keyId) {}

  private static Optional<Record> read(SecureDirectoryStream<Path> d, Path f) throws IOException {
    byte[] raw;
    try (SeekableByteChannel ch = d.newByteChannel(f, Set.<java.nio.file.OpenOption>of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
      ByteBuffer buf = ByteBuffer.allocate(MAX_RECORD);
      while (buf.hasRemaining() && ch.read(buf) > 0) {
        // until full or at the end
      }
      raw = Arrays.copyOf(buf.array(), buf.position());
    } catch (NoSuchFileException e) {
      return Optional.empty(); // swept or replaced since
    }
    List<String> lines = List.of(new String(raw, StandardCharsets.UTF_8).split("\n", -1));
    if (lines.size() != 6 || !lines.get(0).equals("v1")) {
      return Optional.empty();
    }
    try {
      return Optional.of(new Record(Long.parseLong(lines.get(1)), lines.get(2),
          Base64.getDecoder().decode(lines.get(3)), lines.get(4)));
    } catch (IllegalArgumentException e) { // NumberFormatException too
      return Optional.empty();
    }
  }

  /** Removes expired records (best effort: another server may sweep at the same time). */
  void sweep(Instant now) throws IOException {
    try (SecureDirectoryStream<Path> d = openPrivate()) {
      sweep(now, d);
    } catch (NoSuchFileException e) {
      // nothing recorded yet
    }
  }

  private static void sweep(Instant now, SecureDirectoryStream<Path> d) {
    List<Path> names = new ArrayList<>();
    try {
      d.iterator().forEachRemaining(p -> names.add(p.getFileName()));
    } catch (java.nio.file.DirectoryIteratorException e) {
      // best effort, after a record is written: the names read so far are swept, the rest next time
    }
    for (Path f : names) {
      if (f.toString().startsWith(".rec") && f.toString().endsWith(".tmp")) {
        deleteIfLeftOver(d, f, now);
        continue;
      }
      if (!f.toString().endsWith(SUFFIX)) {
        continue;
      }
      try {
        Optional<Record> r = read(d, f);
        if (r.isEmpty() || r.get().expiry < now.toEpochMilli()) {
          deleteQuietly(d, f);
        }
      } catch (IOException e) {
        // gone already, or being replaced: the next sweep sees it again
      }
    }
  }

  /** A temporary record a writer that crashed left behind (a live writer renames it within milliseconds). */
  private static void deleteIfLeftOver(SecureDirectoryStream<Path> d, Path f, Instant now) {
    try {
      var attrs = d.getFileAttributeView(f, java.nio.file.attribute.BasicFileAttributeView.class,
          LinkOption.NOFOLLOW_LINKS).readAttributes();
      if (attrs.lastModifiedTime().toInstant().isBefore(now.minus(LEFT_OVER_AFTER))) {
        deleteQuietly(d, f);
      }
    } catch (IOException e) {
      // renamed into place or deleted meanwhile
    }
  }

  private static void deleteQuietly(SecureDirectoryStream<Path> d, Path f) {
    try {
      d.deleteFile(f);
    } catch (IOException e) {
      // gone already (renamed into place, or swept by another server)
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
