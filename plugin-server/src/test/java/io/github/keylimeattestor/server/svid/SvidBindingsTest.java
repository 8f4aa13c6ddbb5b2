package io.github.keylimeattestor.server.svid;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sweep of expired records, throttled to one per {@link SvidBindings#SWEEP_INTERVAL} of the writers' clock. */
class SvidBindingsTest {
  static final String AGENT = "spiffe://example.org/spire/agent/keylime/0e2f6a4c-7c1b-4f1e-9d52-3b5f3a8e1c01";
  static final Instant NOW = Instant.parse("2026-12-01T08:00:00Z");

  @TempDir Path tmp;
  Path dir;

  @BeforeEach
  void setUp() {
    dir = tmp.resolve("bindings");
  }

  static byte[] spki() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(256);
    return g.generateKeyPair().getPublic().getEncoded();
  }

  @Test
  void aPrivateDirectoryOfAnotherUserIsRefused() throws Exception {
    Path d = Files.createDirectory(tmp.resolve("bindings"),
        java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions
            .fromString("rwx------")));
    org.assertj.core.api.Assertions.assertThat(SvidBindings.checkPrivate("svid_binding_directory", d)).isEmpty();
    org.junit.jupiter.api.Assumptions.assumeTrue(io.github.keylimeattestor.keylime.KeyFilePermissions.effectiveUid() == 0,
        "chown to another uid needs root");
    Files.setAttribute(d, "unix:uid", 12345);
    org.assertj.core.api.Assertions.assertThat(SvidBindings.checkPrivate("svid_binding_directory", d))
        .hasValueSatisfying(p -> org.assertj.core.api.Assertions.assertThat(p).contains("belongs to uid 12345"));
  }

  /** Configure checked the directory; a chmod after it must not leave records trusted or written. */
  @Test
  void aDirectoryThatStopsBeingPrivateIsNeitherReadNorWritten() throws Exception {
    byte[] key = spki();
    SvidBindings b = new SvidBindings(dir);
    b.record(AGENT, key, "k1", NOW.plusSeconds(30), NOW);
    assertThat(b.certified(AGENT, key, NOW)).contains("k1");
    Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwx---"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.certified(AGENT, key, NOW))
        .isInstanceOf(SvidBindings.UntrustedException.class).hasMessageContaining("has mode rwxrwx---");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.record(AGENT, spki(), "k2", NOW.plusSeconds(30), NOW))
        .isInstanceOf(SvidBindings.UntrustedException.class).hasMessageContaining("chmod 0700");
    Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    assertThat(b.certified(AGENT, key, NOW)).contains("k1");
  }

  /** While the directory was open, another user could have planted records; restoring 0700 must not make them count. */
  @Test
  void aRecordSpireServerDidNotWriteIsRefused() throws Exception {
    byte[] key = spki();
    SvidBindings b = new SvidBindings(dir);
    b.record(AGENT, key, "k1", NOW.plusSeconds(30), NOW);
    Path f = dir.resolve(SvidBindings.name(AGENT, key));
    Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.certified(AGENT, key, NOW))
        .isInstanceOf(SvidBindings.UntrustedException.class).hasMessageContaining("spire-server did not write it");

    byte[] other = spki();
    b.record(AGENT, other, "k2", NOW.plus(SvidBindings.MAX_LIFETIME).plusSeconds(1), NOW);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.certified(AGENT, other, NOW))
        .isInstanceOf(SvidBindings.UntrustedException.class).hasMessageContaining("s ahead");
    assertThat(b.certified(AGENT, other, NOW.plusSeconds(2))).as("within the longest lifetime").contains("k2");
  }

  @Test
  void aSymbolicLinkInPlaceOfTheDirectoryIsRefused() throws Exception {
    Path real = Files.createDirectory(tmp.resolve("real"),
        java.nio.file.attribute.PosixFilePermissions.asFileAttribute(SvidBindings.DIR_MODE));
    Files.createSymbolicLink(dir, real);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SvidBindings(dir).record(AGENT, spki(), "k",
        NOW.plusSeconds(30), NOW)).isInstanceOf(SvidBindings.UntrustedException.class)
        .hasMessageContaining("is not a directory");
    assertThat(SvidBindings.checkPrivate("svid_binding_directory", dir)).isPresent();
  }

  @Test
  void aBurstOfWritesDoesNotSweepEachTimeAndTheFirstWriteAfterTheIntervalSweeps() throws Exception {
    byte[] shortLived = spki();
    new SvidBindings(dir).record(AGENT, shortLived, "short", NOW.plusMillis(100), NOW); // sweeps (first write)
    Path expired = dir.resolve(SvidBindings.name(AGENT, shortLived));

    // a boot storm: one instance per attestation, as SvidKeyRecorder makes them, all within the interval
    List<Path> kept = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      String agent = AGENT.replace("01", String.format("%02d", i));
      byte[] k = spki();
      new SvidBindings(dir).record(agent, k, "k" + i, NOW.plusSeconds(60), NOW.plusMillis(200 + i * 10));
      kept.add(dir.resolve(SvidBindings.name(agent, k)));
    }
    assertThat(expired).as("expired at +100 ms, not swept by writes before +1 s").exists();
    assertThat(new SvidBindings(dir).certified(AGENT, shortLived, NOW.plusMillis(900)))
        .as("an expired record is refused whether swept or not").isEmpty();

    byte[] late = spki();
    new SvidBindings(dir).record(AGENT, late, "late", NOW.plusSeconds(60), NOW.plus(SvidBindings.SWEEP_INTERVAL));
    assertThat(expired).as("swept by the first write one interval after the last sweep").doesNotExist();
    assertThat(kept).allMatch(Files::exists);
    assertThat(new SvidBindings(dir).certified(AGENT, late, NOW.plusSeconds(2))).contains("late");
    try (var files = Files.list(dir)) {
      assertThat(files.filter(f -> f.toString().endsWith(SvidBindings.SUFFIX))).hasSize(51);
    }
  }

  @Test
  void sweepsAtMostOncePerIntervalPerDirectory() throws Exception {
    new SvidBindings(dir).record(AGENT, spki(), "a", NOW.plusSeconds(60), NOW);
    SvidBindings other = new SvidBindings(dir);
    assertThat(other.sweepIfDue(NOW.plusMillis(999))).as("same directory, another instance").isFalse();
    assertThat(other.sweepIfDue(NOW.plusMillis(990))).as("a writer a few ms behind").isFalse();
    assertThat(other.sweepIfDue(NOW.plusMillis(1000))).isTrue();
    assertThat(other.sweepIfDue(NOW.plusMillis(1500))).isFalse();
    assertThat(other.sweepIfDue(NOW.minusSeconds(3600))).as("clock set back by an hour").isTrue();
    assertThat(new SvidBindings(tmp.resolve("elsewhere")).sweepIfDue(NOW.minusSeconds(3600)))
        .as("another directory has its own throttle").isTrue();
  }
}
