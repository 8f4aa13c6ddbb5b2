package io.github.keylimeattestor.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExecutableWatchTest {
  @TempDir Path dir;

  static byte[] build(int version) {
    byte[] b = new byte[4096];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) (i * 31 + version);
    }
    return b;
  }

  @Test
  void anotherBuildCopiedOverTheRunningFileIsAChange() throws Exception {
    Path exe = Files.write(dir.resolve("plugin"), build(1));
    ExecutableWatch w = new ExecutableWatch(exe);
    assertThat(w.changed()).isFalse();
    Files.write(exe, build(2), StandardOpenOption.TRUNCATE_EXISTING); // as cp does: same inode, new bytes
    assertThat(w.changed()).isTrue();
  }

  @Test
  void aLongerOrShorterFileIsAChange() throws Exception {
    Path exe = Files.write(dir.resolve("plugin"), build(1));
    ExecutableWatch w = new ExecutableWatch(exe);
    Files.write(exe, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
    assertThat(w.changed()).isTrue();
  }

  @Test
  void aReplacementByRenameOrTheSameBytesAgainIsNot() throws Exception {
    Path exe = Files.write(dir.resolve("plugin"), build(1));
    ExecutableWatch w = new ExecutableWatch(exe);
    Files.write(exe, build(1), StandardOpenOption.TRUNCATE_EXISTING); // a reproducible build of the same commit
    assertThat(w.changed()).isFalse();
    Path next = Files.write(dir.resolve("plugin.new"), build(2));
    Files.move(next, exe, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING); // install, dpkg
    assertThat(w.changed()).isFalse();
  }

  @Test
  void theWatchHaltsOnceTheFileChanged() throws Exception {
    Path exe = Files.write(dir.resolve("plugin"), build(1));
    ExecutableWatch w = new ExecutableWatch(exe);
    CountDownLatch halted = new CountDownLatch(1);
    Thread t = new Thread(() -> w.run(halted::countDown));
    t.start();
    assertThat(halted.await(ExecutableWatch.PERIOD_MILLIS * 2, TimeUnit.MILLISECONDS)).isFalse();
    Files.write(exe, build(2), StandardOpenOption.TRUNCATE_EXISTING);
    assertThat(halted.await(ExecutableWatch.PERIOD_MILLIS * 5, TimeUnit.MILLISECONDS)).isTrue();
    t.join(1000);
  }
}
