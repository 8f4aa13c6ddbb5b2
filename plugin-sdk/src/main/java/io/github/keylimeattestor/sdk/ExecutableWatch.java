package io.github.keylimeattestor.sdk;

import io.github.keylimeattestor.sdk.log.Log;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Ends the plugin when its executable is overwritten in place while it runs. The JVM reads classes
 * from the jar when first used, so copying another build over the running file ({@code cp}, a
 * rebuild) makes the next class load fail on whatever thread needs it: seen to kill the I/O thread,
 * after which the plugin answered nothing, not even go-plugin's Shutdown, and spire-server's stop
 * waited for it for good. Replacing the file by rename ({@code install}, {@code mv}, dpkg, rpm)
 * leaves the running one alone and is not acted on: the watch reads the file it opened at start.
 */
final class ExecutableWatch {
  static final long PERIOD_MILLIS = 2_000;
  /** The zip directory's end record and what precedes it: any other build differs there or in size. */
  private static final int TAIL_BYTES = 64;
  private static final Log LOG = Log.named("pluginmain");

  private final Path path;
  private final FileChannel file;
  private final long size;
  private final byte[] tail;

  ExecutableWatch(Path path) throws IOException {
    this.path = path;
    this.file = FileChannel.open(path, StandardOpenOption.READ);
    this.size = file.size();
    this.tail = tail(size);
  }

  /** True once the bytes of the file opened at start are no longer the ones it held then. */
  boolean changed() {
    try {
      long now = file.size();
      return now != size || !Arrays.equals(tail(now), tail);
    } catch (IOException e) {
      return false; // unreadable for a moment: nothing to conclude
    }
  }

  private byte[] tail(long length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate((int) Math.min(TAIL_BYTES, length));
    long at = length - b.capacity();
    while (b.hasRemaining()) {
      if (file.read(b, at + b.position()) < 0) {
        break;
      }
    }
    return Arrays.copyOf(b.array(), b.position());
  }

  /**
   * Watches the executable the launcher runs (the class path's only entry, a file) on a daemon thread
   * and halts the JVM once it was overwritten. No watch for a class path of directories (tests).
   */
  static void start(Runnable cleanUp) {
    String cp = System.getProperty("java.class.path", "");
    if (cp.isEmpty() || cp.contains(File.pathSeparator) || !Files.isRegularFile(Path.of(cp))) {
      return;
    }
    ExecutableWatch watch;
    try {
      watch = new ExecutableWatch(Path.of(cp));
    } catch (IOException | RuntimeException e) {
      LOG.debug("not watching the plugin executable", "path", cp, "error", e);
      return;
    }
    // halt, not exit: shutdown hooks would load classes the overwritten jar no longer holds; the
    // socket and its directory are removed first, with classes loaded long ago
    Thread t = new Thread(() -> watch.run(() -> {
      try {
        cleanUp.run();
      } catch (Throwable e) {
        // gone with the jar: the halt matters more
      }
      Runtime.getRuntime().halt(1);
    }), "executable-watch");
    t.setDaemon(true);
    t.start();
  }

  void run(Runnable halt) {
    try {
      while (!changed()) {
        Thread.sleep(PERIOD_MILLIS);
      }
    } catch (InterruptedException e) {
      return;
    }
    LOG.error("the plugin executable was overwritten while the plugin runs; exiting now, as the classes it has "
        + "not loaded yet are gone: restart SPIRE to run the new file, and install a new version by rename "
        + "(install, mv), which a running plugin does not notice", "path", path.toString());
    halt.run();
  }
}
