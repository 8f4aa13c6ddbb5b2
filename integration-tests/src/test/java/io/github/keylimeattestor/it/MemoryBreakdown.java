package io.github.keylimeattestor.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a running plugin's resident memory is: RSS by mapping from /proc/PID/smaps, the JVM's own
 * accounting (NMT, when the plugin runs with -XX:NativeMemoryTracking=summary) and its heap, both via jcmd.
 * For the soak harness (ReattestationSoak); it prints, it asserts nothing.
 */
final class MemoryBreakdown {
  private static final Pattern NMT_LINE = Pattern.compile("^-\\s+(.+?) \\(reserved=\\d+KB, committed=(\\d+)KB\\)");
  private static final Pattern NMT_MALLOC = Pattern.compile("^\\s+\\(malloc=(\\d+)KB");

  private MemoryBreakdown() {}

  /** Resident KB by mapping: file name, or [anon], [heap] (malloc's main arena), [stack]. Largest first. */
  static Map<String, Long> rssByMapping(long pid) throws IOException {
    Map<String, Long> kb = new LinkedHashMap<>();
    String current = "[anon]";
    for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/smaps"))) {
      String[] f = l.trim().split("\\s+");
      if (f.length >= 5 && f[0].contains("-") && f[3].contains(":")) {
        current = f.length > 5 ? Path.of(f[5]).getFileName().toString() : "[anon]";
      } else if (f[0].equals("Rss:")) {
        kb.merge(current, Long.parseLong(f[1]), Long::sum);
      }
    }
    Map<String, Long> sorted = new LinkedHashMap<>();
    kb.entrySet().stream().sorted((x, y) -> Long.compare(y.getValue(), x.getValue()))
        .forEach(e -> sorted.put(e.getKey(), e.getValue()));
    return sorted;
  }

  static String rssLine(long pid) throws IOException {
    Map<String, Long> kb = rssByMapping(pid);
    long total = kb.values().stream().mapToLong(Long::longValue).sum();
    StringBuilder b = new StringBuilder(String.format("RSS %.1f MB:", total / 1024.0));
    long rest = total;
    int shown = 0;
    for (Map.Entry<String, Long> e : kb.entrySet()) {
      if (shown++ == 7) {
        break;
      }
      b.append(String.format(" %s %.1f,", e.getKey(), e.getValue() / 1024.0));
      rest -= e.getValue();
    }
    return b.append(String.format(" other %.1f", rest / 1024.0)).toString();
  }

  /** NMT committed MB by category (largest first), or why there is none. */
  static String nmtLine(long pid) {
    String out;
    try {
      out = jcmd(pid, "VM.native_memory", "summary");
    } catch (IOException e) {
      return "NMT: " + e.getMessage().lines().reduce((a, b) -> b).orElse("jcmd failed");
    }
    if (!out.contains("committed=")) {
      return "NMT: off (run with SOAK_NMT=1)";
    }
    List<Map.Entry<String, Long>> cats = new ArrayList<>();
    String lastCategory = null;
    long malloc = 0;
    for (String l : out.lines().toList()) {
      Matcher m = NMT_LINE.matcher(l);
      if (m.find()) {
        lastCategory = m.group(1).trim();
        cats.add(Map.entry(lastCategory, Long.parseLong(m.group(2))));
        continue;
      }
      Matcher mm = NMT_MALLOC.matcher(l);
      if (mm.find() && lastCategory != null) {
        malloc += Long.parseLong(mm.group(1));
      }
    }
    StringBuilder b = new StringBuilder("NMT committed MB:");
    cats.stream().filter(e -> e.getValue() >= 100).sorted((x, y) -> Long.compare(y.getValue(), x.getValue()))
        .forEach(e -> b.append(String.format(" %s %.1f,", e.getKey(), e.getValue() / 1024.0)));
    return b.append(String.format(" (malloc in all %.1f)", malloc / 1024.0)).toString();
  }

  /** The heap's generations, committed and used, from jcmd GC.heap_info. */
  static String heapLine(long pid) {
    try {
      StringBuilder b = new StringBuilder("heap:");
      for (String l : jcmd(pid, "GC.heap_info").lines().toList()) {
        String t = l.trim();
        if (t.contains("generation") || t.startsWith("Metaspace") || t.startsWith("class space")) {
          b.append(' ').append(t.replaceAll("\\s*\\[.*$", "").replaceAll("\\s+", " ")).append(';');
        }
      }
      return b.toString();
    } catch (IOException e) {
      return "heap: " + e.getMessage();
    }
  }

  static void print(String who, long pid) throws IOException {
    System.out.printf("%s plugin (pid %d): %s%n  %s%n  %s%n", who, pid, rssLine(pid), nmtLine(pid), heapLine(pid));
  }

  /**
   * The live heap: a full GC (jcmd GC.class_histogram makes one), the largest classes by live bytes, then the
   * generations and RSS. Changes the plugin's state: call it last.
   */
  static void printAfterFullGc(String who, long pid) throws IOException {
    StringBuilder top = new StringBuilder("live objects by class (MB):");
    int shown = 0;
    for (String l : jcmd(pid, "GC.class_histogram").lines().toList()) {
      String[] f = l.trim().split("\\s+");
      if (f.length >= 4 && f[0].endsWith(":") && shown++ < 8) {
        top.append(String.format(" %s %.2f,", f[3], Long.parseLong(f[2]) / 1048576.0));
      } else if (f.length >= 3 && f[0].equals("Total")) {
        top.append(String.format(" total %.1f", Long.parseLong(f[2]) / 1048576.0));
      }
    }
    System.out.printf("%s plugin after a full GC: %s%n  %s%n  %s%n", who, rssLine(pid), heapLine(pid), top);
  }

  static String jcmd(long pid, String... command) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
        Long.toString(pid)));
    cmd.addAll(List.of(command));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (p.waitFor() != 0) {
        throw new IOException(String.join(" ", cmd) + " failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    return out;
  }
}
