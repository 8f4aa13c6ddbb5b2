package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.KeyFilePermissions;
import io.github.keylimeattestor.keylime.TlsKeys;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sovereign.EvidenceException;
import io.github.keylimeattestor.sovereign.KeylimeAgentId;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.transport.Tcti;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The agent plugin's {@code plugin_data}, checked. See plugin-agent/README.md for the keys. */
record AgentConfig(
    Optional<Tcti.Spec> tcti,
    KeylimeTpm.Primary ek,
    Path agentDataPath,
    UuidSource uuid,
    QuoteSource quoteSource,
    Optional<KeylimeAgentEndpoint> keylimeAgent,
    Path appKeyPath,
    Optional<Path> svidKeyDirectory,
    Duration timeout,
    List<String> warnings) implements TpmSettings {

  static final String DEFAULT_AGENT_DATA = "/var/lib/keylime/agent_data.json";
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  enum QuoteSource {
    TPM,
    KEYLIME_AGENT
  }

  /** The TPM in words, for logs and messages. */
  @Override
  public String tpmDescription() {
    return tcti.map(Object::toString).orElse("default (device:/dev/tpmrm0 if present, else tabrmd)");
  }

  /** The configured TPM, or {@link Tcti#defaultSpec()} looked up now. */
  @Override
  public Tcti.Spec tpm() throws IOException {
    return tcti.isPresent() ? tcti.get() : Tcti.parse(Tcti.defaultSpec());
  }

  /** Where the Keylime agent UUID comes from. */
  sealed interface UuidSource {
    record Explicit(KeylimeAgentId id) implements UuidSource {}

    /** rust-keylime's agent.conf, key {@code uuid} in {@code [agent]}. */
    record AgentConf(Path path) implements UuidSource {}

    /** The Keylime agent's {@code GET /v2.x/agent/info}. */
    record AgentApi() implements UuidSource {}
  }

  /** The local Keylime agent's API: URL, and TLS files for https (re-read at each attestation). */
  record KeylimeAgentEndpoint(URI url, Optional<TlsFiles> tls) {
    ClientSettings settings(Duration timeout) throws IOException {
      TlsSettings t = tls.isEmpty() ? null : tls.get().load();
      return new ClientSettings(List.of(url), t, timeout, Optional.empty());
    }
  }

  record TlsFiles(Path caBundle, Path clientCert, Path clientKey, Optional<String> serverName) {
    TlsSettings load() throws IOException {
      TlsSettings.Builder b = TlsSettings.builder().keys(TlsKeys.under("keylime_agent_tls")).caBundle(caBundle)
          .clientCertificate(clientCert, clientKey, null);
      serverName.ifPresent(b::serverName);
      TlsSettings settings = b.build();
      KeyFilePermissions.checkPrivate(clientKey, "keylime_agent_tls.client_key"); // after the read: "no key" first
      KeyFilePermissions.checkPrivateIfItHoldsAKey(clientCert, "keylime_agent_tls.client_cert");
      return settings;
    }
  }

  static AgentConfig parse(String hcl) throws HclException {
    return parse(HclConfig.parse(hcl));
  }

  /** Reads every key and reports every problem at once (each one a note for Validate). */
  static AgentConfig parse(HclConfig c) throws HclException {
    List<String> warnings = new ArrayList<>();
    Optional<Tcti.Spec> read = c.attempt(() -> tcti(c, warnings));
    Optional<Tcti.Spec> tcti = read == null ? Optional.empty() : read;
    KeylimeTpm.Primary ek = c.attempt(() -> ek(c));
    Path agentData = c.attempt(() -> path(c, "agent_data_path", DEFAULT_AGENT_DATA));
    String explicitUuid = c.optString("keylime_agent_uuid", null);
    String agentConf = c.optString("keylime_agent_config", null);
    QuoteSource source = c.attempt(() -> quoteSource(c));
    String url = c.optString("keylime_agent_url", null);
    HclConfig tlsBlock = c.block("keylime_agent_tls");
    boolean tlsGiven = c.has("keylime_agent_tls");
    String appKey = c.string("app_key_path");
    String svidKeys = c.optString("svid_key_directory", null);
    Duration timeout = c.optDuration("timeout", DEFAULT_TIMEOUT);
    c.rejectUnknownKeys();

    // under 1 ms would become 0 ms, which sockets and D-Bus take as "wait for ever"
    if (timeout.compareTo(Duration.ofMillis(1)) < 0 || timeout.compareTo(Duration.ofMinutes(5)) > 0) {
      c.problem("timeout must be between 1ms and 5m");
    }
    UuidSource uuid = null;
    if (explicitUuid != null && agentConf != null) {
      c.problem("set either keylime_agent_uuid or keylime_agent_config, not both");
    } else if (explicitUuid != null) {
      KeylimeAgentId id = c.attempt(() -> agentId(explicitUuid));
      uuid = id == null ? null : new UuidSource.Explicit(id);
    } else if (agentConf != null) {
      Path conf = c.attempt(() -> filePath("keylime_agent_config", agentConf));
      uuid = conf == null ? null : new UuidSource.AgentConf(conf);
    } else if (url != null) {
      uuid = new UuidSource.AgentApi();
    } else {
      c.problem("the Keylime agent UUID is unknown: set keylime_agent_uuid, or keylime_agent_config "
          + "(the Keylime agent's agent.conf, e.g. /etc/keylime/agent.conf), or keylime_agent_url to ask the "
          + "agent's /agent/info");
    }
    if (source == QuoteSource.KEYLIME_AGENT && url == null) {
      c.problem("quote_source = \"keylime_agent\" needs keylime_agent_url (e.g. \"https://127.0.0.1:9002\")");
    }
    boolean urlUsed = source == QuoteSource.KEYLIME_AGENT || uuid instanceof UuidSource.AgentApi;
    if (url == null && tlsGiven) {
      c.problem("keylime_agent_tls is set but keylime_agent_url is not");
    }
    if (url != null && !urlUsed && uuid != null) {
      c.problem("keylime_agent_url is set but unused: it serves quote_source = \"keylime_agent\" "
          + "or reading the agent UUID when neither keylime_agent_uuid nor keylime_agent_config is set");
    }
    Optional<KeylimeAgentEndpoint> endpoint = Optional.empty();
    if (url != null) {
      endpoint = Optional.ofNullable(c.attempt(() -> endpoint(url, tlsGiven ? Optional.of(tlsBlock) : Optional.empty())));
    }
    Path appKeyPath = appKey.isEmpty() ? null : c.attempt(() -> filePath("app_key_path", appKey));
    Optional<Path> svidKeyDirectory = svidKeys == null ? Optional.empty()
        : Optional.ofNullable(c.attempt(() -> filePath("svid_key_directory", svidKeys)));
    // the App Key file is replaced when it holds no key blob: never one of the other keys' files
    if (appKeyPath != null && appKeyPath.toAbsolutePath().normalize().getParent() == null) {
      c.problem("app_key_path = \"" + appKey + "\" names no file: give the path of the App Key blob, e.g. "
          + "/var/lib/spire/agent/keylime-app-key.blob");
      appKeyPath = null;
    }
    if (appKeyPath != null && agentData != null
        && appKeyPath.toAbsolutePath().normalize().equals(agentData.toAbsolutePath().normalize())) {
      c.problem("app_key_path must not be agent_data_path (" + agentData + "): the plugin writes its own App Key "
          + "there, which would replace the Keylime agent's AK file; use e.g. /var/lib/spire/agent/keylime-app-key.blob");
    }
    if (appKeyPath != null && svidKeyDirectory.isPresent() && svidKeyDirectory.get().toAbsolutePath().normalize()
        .equals(appKeyPath.toAbsolutePath().normalize().getParent())) {
      c.problem("app_key_path must not be in svid_key_directory (" + svidKeyDirectory.get() + "), which holds the "
          + "KeyManager's keys only");
    }
    c.throwIfProblems();
    return new AgentConfig(tcti, ek, agentData, uuid, source, endpoint, appKeyPath, svidKeyDirectory, timeout,
        List.copyOf(warnings));
  }

  /**
   * {@code tcti}, or the old keys mapped onto it: {@code tpm_device = P} is {@code device:P},
   * {@code swtpm_address = H:P} is {@code swtpm:host=H,port=P}. Empty: {@link Tcti#defaultSpec()}.
   */
  static Optional<Tcti.Spec> tcti(HclConfig c, List<String> warnings) throws HclException {
    String tcti = c.optString("tcti", null);
    String device = c.optString("tpm_device", null);
    String swtpm = c.optString("swtpm_address", null);
    if (tcti != null && (device != null || swtpm != null)) {
      throw new HclException("tcti replaces tpm_device and swtpm_address: set only tcti (e.g. tcti = "
          + "\"device:/dev/tpmrm0\", \"tabrmd\" or \"swtpm:host=127.0.0.1,port=2321\")");
    }
    if (device != null && swtpm != null) {
      throw new HclException("set either tpm_device or swtpm_address, not both (better: tcti, which replaces both)");
    }
    Tcti.Spec spec;
    if (tcti != null) {
      try {
        spec = Tcti.parse(tcti);
      } catch (IllegalArgumentException e) {
        throw new HclException("tcti: " + e.getMessage());
      }
    } else if (device != null) {
      Path devicePath = filePath("tpm_device", device);
      if (!devicePath.isAbsolute()) {
        throw new HclException("tpm_device needs an absolute path, e.g. \"/dev/tpmrm0\" (better: tcti = \"device:/dev/tpmrm0\")");
      }
      spec = new Tcti.Spec.Device(devicePath);
      warnings.add("tpm_device is an old name: write tcti = \"" + spec + "\"");
    } else if (swtpm != null) {
      spec = swtpmAddress(swtpm);
      warnings.add("swtpm_address is an old name: write tcti = \"" + spec + "\"");
    } else {
      return Optional.empty();
    }
    spec.warning().ifPresent(warnings::add);
    return Optional.of(spec);
  }

  private static Tcti.Spec swtpmAddress(String swtpm) throws HclException {
    int colon = swtpm.lastIndexOf(':');
    String host = colon > 0 ? swtpm.substring(0, colon) : "";
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port = -1;
    try {
      port = colon > 0 ? Integer.parseInt(swtpm.substring(colon + 1)) : -1;
    } catch (NumberFormatException e) {
      // reported below
    }
    if (host.isEmpty() || port < 1 || port > 65534) {
      throw new HclException("swtpm_address must be host:port of swtpm's data port, e.g. \"127.0.0.1:2321\" (got \""
          + swtpm + "\"); better: tcti = \"swtpm:host=127.0.0.1,port=2321\"");
    }
    return new Tcti.Spec.Swtpm(host, port);
  }

  private static KeylimeTpm.Primary ek(HclConfig c) throws HclException {
    String alg = c.optString("ek_algorithm", "rsa").toLowerCase(Locale.ROOT);
    var template = switch (alg) {
      case "rsa" -> Templates.ekRsa2048();
      case "ecc" -> Templates.ekEccP256();
      default -> throw new HclException("ek_algorithm must be \"rsa\" (TCG template L-1) or \"ecc\" (L-2), as the "
          + "Keylime agent's tpm_encryption_alg");
    };
    String handle = c.optString("ek_handle", alg.equals("rsa") ? "0x81010001" : "template");
    if (handle.equals("template")) {
      return new KeylimeTpm.Primary(0, Handles.RH_ENDORSEMENT, template);
    }
    int h;
    try {
      h = Integer.parseUnsignedInt(handle.startsWith("0x") ? handle.substring(2) : handle, 16);
    } catch (NumberFormatException e) {
      h = 0;
    }
    if ((h & 0xFF000000) != Handles.HR_PERSISTENT) {
      throw new HclException("ek_handle must be a persistent handle such as \"0x81010001\", or \"template\" to "
          + "create the EK from the TCG template (got \"" + handle + "\")");
    }
    return new KeylimeTpm.Primary(h, Handles.RH_ENDORSEMENT, template);
  }

  private static QuoteSource quoteSource(HclConfig c) throws HclException {
    String s = c.optString("quote_source", "tpm");
    return switch (s) {
      case "tpm" -> QuoteSource.TPM;
      case "keylime_agent" -> QuoteSource.KEYLIME_AGENT;
      default -> throw new HclException("quote_source must be \"tpm\" (quote with the Keylime AK directly) or "
          + "\"keylime_agent\" (the Keylime agent's /quotes/identity); got \"" + s + "\"");
    };
  }

  private static KeylimeAgentEndpoint endpoint(String url, Optional<HclConfig> tlsBlock) throws HclException {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new HclException("keylime_agent_url is not a URL: " + e.getMessage());
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("https") && !scheme.equals("http") || uri.getHost() == null) {
      throw new HclException("keylime_agent_url must be https://host:port (or http://host:port for an agent "
          + "with mTLS disabled); got \"" + url + "\"");
    }
    Optional<TlsFiles> tls = Optional.empty();
    if (scheme.equals("http")) {
      if (tlsBlock.isPresent()) {
        throw new HclException("keylime_agent_tls is set but keylime_agent_url is http://: use https:// "
            + "(or remove keylime_agent_tls)");
      }
    } else {
      if (tlsBlock.isEmpty()) {
        throw new HclException("keylime_agent_url is https:// and needs keylime_agent_tls { ca_bundle, client_cert, "
            + "client_key } (a client certificate the Keylime agent's trusted_client_ca accepts)");
      }
      HclConfig t = tlsBlock.get();
      Path ca = t.file("ca_bundle");
      Path cert = t.file("client_cert");
      Path key = t.file("client_key");
      Optional<String> serverName = Optional.ofNullable(t.optString("server_name", null)).filter(s -> !s.isBlank());
      t.rejectUnknownKeys();
      if (ca == null || cert == null || key == null) {
        return null; // the missing files are recorded with their keys
      }
      tls = Optional.of(new TlsFiles(ca, cert, key, serverName));
    }
    KeylimeAgentEndpoint endpoint = new KeylimeAgentEndpoint(uri, tls);
    try {
      endpoint.settings(DEFAULT_TIMEOUT); // reads the TLS files now, so that a typo fails Configure
    } catch (IOException | IllegalArgumentException e) {
      throw new HclException((tls.isPresent() ? "keylime_agent_url / keylime_agent_tls: " : "keylime_agent_url: ")
          + e.getMessage());
    }
    return endpoint;
  }

  private static KeylimeAgentId agentId(String text) throws HclException {
    try {
      return KeylimeAgentId.parse(text);
    } catch (EvidenceException e) {
      throw new HclException("keylime_agent_uuid: " + e.getMessage()
          + (e.check().equals("default_uuid") ? ", then set keylime_agent_uuid to that uuid (or "
              + "replace it with keylime_agent_config, which reads it from agent.conf)" : ""));
    }
  }

  private static Path path(HclConfig c, String key, String fallback) throws HclException {
    return filePath(key, c.optString(key, fallback));
  }

  /** A file path; relative paths are relative to the SPIRE agent's working directory, as SPIRE's own. */
  static Path filePath(String key, String value) throws HclException {
    if (value.isBlank() || value.indexOf('\0') >= 0) {
      throw new HclException(key + " must be a file path");
    }
    return Path.of(value);
  }
}
