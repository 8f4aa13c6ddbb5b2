package io.github.keylimeattestor.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/** Thread, file-descriptor and listening-socket facts of a process, read from /proc. */
final class ProcStats {
  private ProcStats() {}

  static int threads(long pid) throws IOException {
    for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (l.startsWith("Threads:")) {
        return Integer.parseInt(l.substring(8).trim());
      }
    }
    throw new IOException("no thread count for " + pid);
  }

  static int fds(long pid) throws IOException {
    try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      return (int) s.count();
    }
  }

  /** TCP/UDP sockets in LISTEN state (or bound UDP) that {@code pid} holds. */
  static List<String> listeningInetSockets(long pid) throws IOException {
    Set<String> inodes = new HashSet<>();
    try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      for (Path fd : (Iterable<Path>) s::iterator) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:[")) {
            inodes.add(target.substring(8, target.length() - 1));
          }
        } catch (IOException e) {
          // fd closed meanwhile
        }
      }
    }
    List<String> out = new java.util.ArrayList<>();
    for (String table : List.of("tcp", "tcp6", "udp", "udp6")) {
      List<String> lines = Files.readAllLines(Path.of("/proc/net/" + table));
      for (String line : lines.subList(1, lines.size())) {
        String[] f = line.trim().split("\\s+");
        boolean listening = table.startsWith("udp") || f[3].equals("0A");
        if (listening && inodes.contains(f[9])) {
          out.add(table + " " + f[1]);
        }
      }
    }
    return out;
  }
}
