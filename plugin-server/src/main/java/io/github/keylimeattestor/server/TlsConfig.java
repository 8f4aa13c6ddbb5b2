package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.KeyFilePermissions;
import io.github.keylimeattestor.keylime.TlsKeys;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * TLS to the registrar and the verifier: one shared {@code tls} block, and optional per-service
 * {@code registrar_tls} / {@code verifier_tls} blocks whose keys ({@code ca_bundle}, {@code
 * client_cert}, {@code client_key}, {@code server_name}) override the shared ones for that service
 * only. The common case (one PKI, one name or URLs by name) needs only {@code tls}; registrar and
 * verifier certificates with different names, dialled by IP, need only {@code server_name} in each
 * per-service block. Messages name the key that supplied each value. A per-service
 * {@code server_name = ""} drops a shared name for that service (its certificate is then checked
 * against the host dialled), where an empty file key is only an unset one.
 */
final class TlsConfig {
  private static final String[] KEYS = {"ca_bundle", "client_cert", "client_key", "server_name"};

  private TlsConfig() {}

  /** Reads {@code tls} and {@code <service>_tls}; {@code service} is "registrar" or "verifier". */
  static TlsSettings forService(HclConfig root, String service) throws HclException {
    HclConfig shared = root.block("tls");
    String own = service + "_tls";
    HclConfig mine = root.block(own);
    String[] value = new String[KEYS.length];
    String[] from = new String[KEYS.length];
    for (int i = 0; i < KEYS.length; i++) {
      String v = mine.optString(KEYS[i], "");
      String common = shared.optString(KEYS[i], "");
      from[i] = own + "." + KEYS[i];
      boolean ownEmptyName = i == 3 && mine.has(KEYS[i]) && v.isEmpty();
      if (v.isEmpty() && !common.isEmpty() && !ownEmptyName) {
        v = common;
        from[i] = "tls." + KEYS[i];
      }
      value[i] = v;
    }
    shared.rejectUnknownKeys();
    mine.rejectUnknownKeys();
    for (int i = 0; i < 3; i++) {
      if (value[i].isEmpty()) {
        throw new HclException("tls." + KEYS[i] + " is required (or " + own + "." + KEYS[i] + " for the " + service
            + " only)");
      }
    }
    // every missing file at once (reading them stops at the first)
    List<String> missing = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      if (!Files.exists(Path.of(value[i]))) {
        missing.add(from[i] + ": no such file " + value[i]);
      }
    }
    if (!missing.isEmpty()) {
      throw new HclException(missing);
    }
    TlsKeys keys = new TlsKeys(from[0], from[1], from[2], from[3], own + ".server_name");
    try {
      TlsSettings settings = TlsSettings.builder().keys(keys).caBundle(Path.of(value[0]))
          .clientCertificate(Path.of(value[1]), Path.of(value[2]), null).serverName(value[3]).build();
      KeyFilePermissions.checkPrivate(Path.of(value[2]), from[2]); // after the read: a file with no key says so first
      KeyFilePermissions.checkPrivateIfItHoldsAKey(Path.of(value[1]), from[1]);
      return settings;
    } catch (IOException e) {
      throw new HclException(e.getMessage());
    } catch (IllegalArgumentException e) {
      throw new HclException(from[3] + ": " + e.getMessage());
    }
  }
}
