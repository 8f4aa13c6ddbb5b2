package io.github.keylimeattestor.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * tpm2-tools as an independent reader of our TPM keys: nothing of the project's TPM code is used.
 * Without a resource manager tpm2-tools leaves its objects loaded, so every call flushes exactly
 * the transient handles it added (the Keylime agent's AK stays).
 */
final class Tpm2Tools {
  /** tpm2_createprimary's form of our storage primary: ECC P-256, AES-128-CFB, the TCG SRK attributes. */
  static final List<String> SRK = List.of("-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb", "-a",
      "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt");

  private Tpm2Tools() {}

  static String run(String tcti, Path dir, String... command) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().put("TPM2TOOLS_TCTI", tcti);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", command) + " failed:\n" + out);
    }
    return out;
  }

  /**
   * TPM_PT_FIRMWARE_VERSION_1 and _2 as {@code tpm2_getcap properties-fixed} prints them, as 16 hex
   * digits (the form of the {@code tpm:firmware:} selector).
   */
  static String firmwareVersion(String tcti, Path dir) throws IOException, InterruptedException {
    String out = run(tcti, dir, "tpm2_getcap", "properties-fixed");
    Matcher m = Pattern.compile("TPM2_PT_FIRMWARE_VERSION_1:\\s+raw: 0x(\\p{XDigit}+)\\s+"
        + "TPM2_PT_FIRMWARE_VERSION_2:\\s+raw: 0x(\\p{XDigit}+)").matcher(out);
    if (!m.find()) {
      throw new AssertionError("no firmware version in tpm2_getcap properties-fixed:\n" + out);
    }
    return String.format("%08x%08x", Long.parseLong(m.group(1), 16), Long.parseLong(m.group(2), 16));
  }

  static List<String> transientHandles(String tcti, Path dir) throws IOException, InterruptedException {
    List<String> out = new ArrayList<>();
    for (String line : run(tcti, dir, "tpm2_getcap", "handles-transient").split("\n")) {
      String h = line.replace("-", "").trim();
      if (!h.isEmpty()) {
        out.add(h);
      }
    }
    return out;
  }

  /**
   * The SubjectPublicKeyInfo (DER) of the key in one of our blob files (TPM2B_PRIVATE then
   * TPM2B_PUBLIC), as tpm2_load + tpm2_readpublic see it under a freshly made storage primary.
   */
  static byte[] publicKeyOfBlob(String tcti, Path blob, Path work) throws IOException, InterruptedException {
    Files.createDirectories(work);
    byte[] b = Files.readAllBytes(blob);
    int privLen = 2 + (((b[0] & 0xff) << 8) | (b[1] & 0xff));
    Files.write(work.resolve("key.priv"), Arrays.copyOfRange(b, 0, privLen));
    Files.write(work.resolve("key.pub"), Arrays.copyOfRange(b, privLen, b.length));
    List<String> create = new ArrayList<>(List.of("tpm2_createprimary"));
    create.addAll(SRK);
    create.addAll(List.of("-c", "srk.ctx"));
    // each step leaves its object loaded; flushed at once, its saved context stays usable for the next step
    runAndFlush(tcti, work, create.toArray(String[]::new));
    runAndFlush(tcti, work, "tpm2_load", "-C", "srk.ctx", "-u", "key.pub", "-r", "key.priv", "-c", "key.ctx");
    runAndFlush(tcti, work, "tpm2_readpublic", "-c", "key.ctx", "-f", "der", "-o", "key.der");
    return Files.readAllBytes(work.resolve("key.der"));
  }

  /** Runs a tool and flushes the transient handles it left behind (also when it fails). */
  static String runAndFlush(String tcti, Path dir, String... command) throws IOException, InterruptedException {
    List<String> before = transientHandles(tcti, dir);
    try {
      return run(tcti, dir, command);
    } finally {
      for (String h : transientHandles(tcti, dir)) {
        if (!before.contains(h)) {
          run(tcti, dir, "tpm2_flushcontext", h);
        }
      }
    }
  }
}
