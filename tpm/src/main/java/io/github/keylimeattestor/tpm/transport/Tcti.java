package io.github.keylimeattestor.tpm.transport;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Chooses a TPM with the strings of {@code TPM2TOOLS_TCTI} / libtss2's TCTI loader:
 *
 * <table>
 * <caption>accepted forms</caption>
 * <tr><td>{@code device:/dev/tpmrm0}</td><td>kernel resource manager (recommended)</td></tr>
 * <tr><td>{@code device:/dev/tpm0}, {@code device}</td><td>raw device: exclusive, see {@link Spec#warning()}</td></tr>
 * <tr><td>{@code tabrmd}, {@code tabrmd:bus_type=session},
 *   {@code tabrmd:bus_name=com.intel.tss2.Tabrmd,bus_type=system}</td><td>tpm2-abrmd over D-Bus</td></tr>
 * <tr><td>{@code swtpm:host=127.0.0.1,port=2321}, {@code mssim:...}</td><td>swtpm's TCP data port</td></tr>
 * </table>
 */
public final class Tcti {
  public static final String TPMRM0 = "/dev/tpmrm0";
  private static final Pattern RAW_DEVICE = Pattern.compile("/dev/tpm[0-9]+");

  private Tcti() {}

  /** A parsed TCTI string. */
  public sealed interface Spec {
    TpmTransport open(int timeoutMillis) throws IOException;

    /**
     * Opens the TPM for one short sequence of commands, closed as soon as it ends. swtpm then keeps
     * one connection for the whole sequence instead of one per command: swtpm serves one connection
     * at a time, so its other clients (the Keylime agent, tpm2-tools) wait until the sequence ends,
     * as they wait for each other's commands, and none of their commands runs inside it.
     */
    default TpmTransport openForSequence(int timeoutMillis) throws IOException {
      return open(timeoutMillis);
    }

    /** A warning for the operator, if this choice is likely to hurt (raw /dev/tpm0). */
    default Optional<String> warning() {
      return Optional.empty();
    }

    record Device(Path path) implements Spec {
      @Override
      public TpmTransport open(int timeoutMillis) throws IOException {
        return new DeviceTransport(path, Math.max(timeoutMillis, DeviceTransport.KERNEL_LONGEST_COMMAND_MILLIS));
      }

      @Override
      public Optional<String> warning() {
        if (!RAW_DEVICE.matcher(path.toString()).matches()) {
          return Optional.empty();
        }
        return Optional.of(path + " is the raw TPM device: only one process can hold it open (tpm2-abrmd, if it "
            + "runs, already does) and no resource manager swaps other clients' objects out. Prefer "
            + "\"device:/dev/tpmrm0\" or \"tabrmd\"");
      }

      @Override
      public String toString() {
        return "device:" + path;
      }
    }

    record Tabrmd(String busName, TabrmdTransport.BusType busType) implements Spec {
      @Override
      public TpmTransport open(int timeoutMillis) throws IOException {
        return TabrmdTransport.connect(busName, busType, timeoutMillis);
      }

      @Override
      public String toString() {
        return "tabrmd:bus_name=" + busName + ",bus_type=" + busType.name().toLowerCase(Locale.ROOT);
      }
    }

    record Swtpm(String host, int port) implements Spec {
      @Override
      public TpmTransport open(int timeoutMillis) {
        return new SwtpmTransport(host, port, false, timeoutMillis);
      }

      @Override
      public TpmTransport openForSequence(int timeoutMillis) {
        return new SwtpmTransport(host, port, true, timeoutMillis);
      }

      @Override
      public String toString() {
        return "swtpm:host=" + host + ",port=" + port;
      }
    }
  }

  /** Opens the TPM that {@code spec} names (see {@link #parse}). */
  public static TpmTransport open(String spec, int timeoutMillis) throws IOException {
    try {
      return parse(spec).open(timeoutMillis);
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /**
   * Parses a TCTI string.
   *
   * @throws IllegalArgumentException with a message naming the accepted forms
   */
  public static Spec parse(String spec) {
    return parse(spec, Files::exists);
  }

  /**
   * As {@link #parse(String)}, with {@code exists} telling which device files exist: a bare
   * {@code device} names {@code /dev/tpmrm0} when it exists, else {@code /dev/tpm0}, the order in
   * which tpm2-tss's device TCTI tries them (so a TPM2TOOLS_TCTI that works for tpm2-tools means the
   * same TPM here, and not the raw device where the resource manager exists).
   */
  public static Spec parse(String spec, java.util.function.Predicate<Path> exists) {
    int colon = spec.indexOf(':');
    String name = (colon < 0 ? spec : spec.substring(0, colon)).strip();
    String conf = colon < 0 ? "" : spec.substring(colon + 1).strip();
    switch (name) {
      case "device": {
        String path = !conf.isEmpty() ? conf : exists.test(Path.of(TPMRM0)) ? TPMRM0 : "/dev/tpm0";
        if (!path.startsWith("/") || path.indexOf('\0') >= 0) {
          throw bad(spec, "device needs an absolute path, e.g. device:/dev/tpmrm0");
        }
        return new Spec.Device(Path.of(path));
      }
      case "tabrmd": {
        Map<String, String> kv = keyValues(spec, conf, "bus_name", "bus_type");
        String busName = kv.getOrDefault("bus_name", TabrmdTransport.DEFAULT_BUS_NAME);
        String type = kv.getOrDefault("bus_type", "system");
        TabrmdTransport.BusType busType = switch (type) {
          case "system" -> TabrmdTransport.BusType.SYSTEM;
          case "session" -> TabrmdTransport.BusType.SESSION;
          default -> throw bad(spec, "bus_type must be system or session");
        };
        if (busName.isEmpty() || busName.length() > 255) {
          throw bad(spec, "bus_name must be a D-Bus name such as " + TabrmdTransport.DEFAULT_BUS_NAME);
        }
        return new Spec.Tabrmd(busName, busType);
      }
      case "swtpm":
      case "mssim": {
        Map<String, String> kv = keyValues(spec, conf, "host", "port");
        String host = kv.getOrDefault("host", "localhost");
        int port;
        try {
          port = Integer.parseInt(kv.getOrDefault("port", "2321"));
        } catch (NumberFormatException e) {
          port = -1;
        }
        if (host.isEmpty() || port < 1 || port > 65534) {
          throw bad(spec, "needs host=H,port=P with the data port P (control port P+1)");
        }
        return new Spec.Swtpm(host, port);
      }
      default:
        throw bad(spec, "unknown TCTI \"" + name + "\"");
    }
  }

  /**
   * The TPM to use when none is configured: {@code device:/dev/tpmrm0} if it exists, else
   * {@code tabrmd} if tpm2-abrmd's bus name is on the system bus.
   *
   * @throws IOException when neither is there, saying what to set
   */
  public static String defaultSpec() throws IOException {
    if (Files.exists(Path.of(TPMRM0))) {
      return "device:" + TPMRM0;
    }
    if (TabrmdTransport.nameHasOwner(TabrmdTransport.DEFAULT_BUS_NAME, TabrmdTransport.BusType.SYSTEM, 2000)) {
      return "tabrmd";
    }
    throw new IOException("no TPM found: " + TPMRM0 + " does not exist and tpm2-abrmd ("
        + TabrmdTransport.DEFAULT_BUS_NAME + ") is not on the system bus; load the TPM driver (tpm_tis / "
        + "tpm_crb), start tpm2-abrmd, or set the TCTI (e.g. \"swtpm:host=127.0.0.1,port=2321\")");
  }

  private static Map<String, String> keyValues(String spec, String conf, String... keys) {
    Map<String, String> out = new LinkedHashMap<>();
    if (conf.isEmpty()) {
      return out;
    }
    for (String part : conf.split(",")) {
      int eq = part.indexOf('=');
      String k = eq < 0 ? part.strip() : part.substring(0, eq).strip();
      if (eq < 0 || !java.util.List.of(keys).contains(k) || out.containsKey(k)) {
        throw bad(spec, "expected " + String.join("=..,", keys) + "=.. (got \"" + part + "\")");
      }
      out.put(k, part.substring(eq + 1).strip());
    }
    return out;
  }

  private static IllegalArgumentException bad(String spec, String why) {
    return new IllegalArgumentException("bad TCTI \"" + spec + "\": " + why + "; use device:/dev/tpmrm0, tabrmd, "
        + "tabrmd:bus_type=session, tabrmd:bus_name=NAME,bus_type=system|session, or swtpm:host=H,port=P");
  }
}
