package io.github.keylimeattestor.sdk;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.File;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipFile;

/**
 * Work on the way to the gRPC server that can run on a second core while the main thread binds the
 * plugin socket, prints the handshake line and builds the server: the first look into the class path reads the plugin jar's central directory (some
 * 18,000 entries; the JDK shares one parsed copy among all openers of a file, so the class loader
 * then finds it read), the JDK's Unix-domain socket code makes a SecureRandom when it first loads
 * (security providers; whichever thread comes first makes it), and Netty's handler masks read {@code @Skip} annotations, for which the JDK
 * spins a proxy class at every start. Only JDK initialisation and reflection that initialises no
 * Netty class run here, so no class-initialisation lock can be taken in the opposite order by the
 * main thread (no deadlock). Failures do not matter: the main thread then does the same work itself.
 */
final class StartupWarmUp {
  /** Held open for the life of the process, as the class loader holds the same jars open. */
  private static final List<ZipFile> CLASS_PATH = new ArrayList<>();

  private StartupWarmUp() {}

  static void start() {
    Thread t = new Thread(StartupWarmUp::run, "startup-warm-up");
    t.setDaemon(true);
    t.start();
  }

  private static void run() {
    for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
      if (entry.endsWith(".jar") || new File(entry).isFile()) {
        try {
          CLASS_PATH.add(new ZipFile(entry));
        } catch (IOException | RuntimeException e) {
          // the class loader reports it, if it matters
        }
      }
    }
    try {
      SecureRandom.getInstance("NativePRNGNonBlocking");
    } catch (GeneralSecurityException | RuntimeException e) {
      // not on this platform: sun.nio.ch falls back to new SecureRandom() itself
    }
    try {
      ChannelInboundHandlerAdapter.class.getMethod("channelRead", ChannelHandlerContext.class, Object.class)
          .getDeclaredAnnotations();
    } catch (ReflectiveOperationException | RuntimeException e) {
      // nothing to warm
    }
  }
}
