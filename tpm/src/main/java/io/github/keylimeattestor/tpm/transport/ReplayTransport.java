package io.github.keylimeattestor.tpm.transport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Plays back a captured trace (see {@link RecordingTransport}): each command must equal the next
 * recorded command byte for byte, and gets the recorded response. Trace format: lines
 * {@code > hex} (command) and {@code < hex} (response); {@code #} starts a comment.
 */
public final class ReplayTransport implements TpmTransport {
  /** One command and its response. */
  public record Exchange(byte[] command, byte[] response) {}

  private final List<Exchange> exchanges;
  private int next;

  public ReplayTransport(List<Exchange> exchanges) {
    this.exchanges = List.copyOf(exchanges);
  }

  public static ReplayTransport parse(String trace) {
    HexFormat hex = HexFormat.of();
    List<Exchange> list = new ArrayList<>();
    byte[] pending = null;
    for (String raw : trace.split("\n")) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      if (line.startsWith(">")) {
        if (pending != null) {
          throw new IllegalArgumentException("command without response in trace");
        }
        pending = hex.parseHex(line.substring(1).strip());
      } else if (line.startsWith("<")) {
        if (pending == null) {
          throw new IllegalArgumentException("response without command in trace");
        }
        list.add(new Exchange(pending, hex.parseHex(line.substring(1).strip())));
        pending = null;
      } else {
        throw new IllegalArgumentException("bad trace line: " + line);
      }
    }
    if (pending != null) {
      throw new IllegalArgumentException("trace ends with a command without response");
    }
    return new ReplayTransport(list);
  }

  public static ReplayTransport load(Path path) {
    try {
      return parse(Files.readString(path, StandardCharsets.US_ASCII));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public synchronized byte[] transmit(byte[] command) throws IOException {
    if (next >= exchanges.size()) {
      throw new IOException("replay trace exhausted after " + exchanges.size() + " commands");
    }
    Exchange e = exchanges.get(next);
    if (!java.util.Arrays.equals(e.command(), command)) {
      throw new IOException("replay mismatch at command " + (next + 1) + ": expected "
          + HexFormat.of().formatHex(e.command()) + " got " + HexFormat.of().formatHex(command));
    }
    next++;
    return e.response().clone();
  }

  /** True when every recorded exchange has been played. */
  public synchronized boolean finished() {
    return next == exchanges.size();
  }

  public synchronized int remaining() {
    return exchanges.size() - next;
  }
}
