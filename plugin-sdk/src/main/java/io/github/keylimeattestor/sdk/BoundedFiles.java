package io.github.keylimeattestor.sdk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a configuration or data file whole, within a limit: never a FIFO or a device (opening a FIFO
 * blocks until a writer comes, a device may never end), and never more than the limit and one byte,
 * so a large file named by mistake is refused without being read into the heap.
 */
public final class BoundedFiles {
  private BoundedFiles() {}

  /** Thrown for a path that exists but is no regular file; the message is "{@code <path>} is not a regular file". */
  public static final class NotARegularFileException extends IOException {
    private static final long serialVersionUID = 1L;

    NotARegularFileException(Path file) {
      super(file + " is not a regular file");
    }
  }

  /** At most {@code limit + 1} bytes of {@code file}: a result longer than {@code limit} means the file is too large. */
  public static byte[] readAtMost(Path file, int limit) throws IOException {
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new NotARegularFileException(file);
    }
    try (var in = Files.newInputStream(file)) {
      return in.readNBytes(limit + 1);
    }
  }
}
