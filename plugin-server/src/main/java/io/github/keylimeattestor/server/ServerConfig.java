package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.Pem;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sovereign.AgentPathTemplate;
import io.github.keylimeattestor.sovereign.EvidenceException;
import io.github.keylimeattestor.sovereign.PcrPolicy;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.Alg;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The server plugin's {@code plugin_data}, read strictly (unknown keys are refused). Example in
 * plugin-server/README.md.
 */
record ServerConfig(
    String trustDomain,
    ClientSettings registrar,
    ClientSettings verifier,
    List<X509Certificate> ekCaBundle,
    boolean requireEkCert,
    Set<OperationalState> acceptedStates,
    boolean requirePass,
    Optional<Duration> maxAttestationAge,
    PcrPolicy pcrPolicy,
    Set<Integer> pcrSelectors,
    Set<String> metaSelectors,
    AgentPathTemplate agentPath,
    Duration challengeTimeout,
    boolean verifierIdentityCheck,
    boolean allowSha1) {

  static final Set<OperationalState> DEFAULT_STATES = EnumSet.of(OperationalState.GET_QUOTE,
      OperationalState.GET_QUOTE_RETRY, OperationalState.PROVIDE_V, OperationalState.PROVIDE_V_RETRY);

  /** Parses and checks everything that can be checked without the network. */
  static ServerConfig parse(String trustDomain, String hcl) throws HclException {
    if (trustDomain == null || trustDomain.isEmpty()) {
      throw new HclException("SPIRE sent no trust domain");
    }
    HclConfig c = HclConfig.parse(hcl);
    Duration timeout = c.optDuration("keylime_timeout", ClientSettings.DEFAULT_TIMEOUT);
    ClientSettings registrar = settings("registrar_urls", c.stringList("registrar_urls"),
        TlsConfig.forService(c, "registrar"), timeout);
    ClientSettings verifier = settings("verifier_urls", c.stringList("verifier_urls"),
        TlsConfig.forService(c, "verifier"), timeout);

    List<X509Certificate> ekCas = List.of();
    String ekCaPath = c.optString("ek_ca_bundle", "");
    if (!ekCaPath.isEmpty()) {
      try {
        ekCas = Pem.readCertificates(Path.of(ekCaPath));
      } catch (IOException e) {
        throw new HclException("ek_ca_bundle: " + e.getMessage());
      }
    }
    boolean requireEkCert = c.optBool("require_ek_cert", false);
    if (requireEkCert && ekCas.isEmpty()) {
      throw new HclException("require_ek_cert = true needs ek_ca_bundle (the CA(s) that issue your TPMs' EK certificates)");
    }

    HclConfig status = c.block("attestation_policy");
    Set<OperationalState> states = states(status.stringList("accepted_states"));
    boolean requirePass = status.optBool("require_status_pass", true);
    Duration maxAge = status.optDuration("max_attestation_age", Duration.ZERO);
    status.rejectUnknownKeys();

    PcrPolicy pcrPolicy = pcrPolicy(c.block("pcr_policy"));

    HclConfig sel = c.block("selectors");
    Set<Integer> pcrSelectors = new LinkedHashSet<>();
    for (long p : sel.intList("pcrs")) {
      int pcr = pcrIndex("selectors.pcrs", p);
      if (java.util.Arrays.stream(pcrPolicy.pcrs()).noneMatch(x -> x == pcr)) {
        throw new HclException("selectors.pcrs: PCR " + pcr + " is not in pcr_policy.pcrs, so it is never quoted");
      }
      pcrSelectors.add(pcr);
    }
    Set<String> metaSelectors = new LinkedHashSet<>(sel.stringList("meta_keys"));
    sel.rejectUnknownKeys();

    AgentPathTemplate path;
    try {
      path = AgentPathTemplate.parse(c.optString("agent_path_template", AgentPathTemplate.DEFAULT));
    } catch (IllegalArgumentException e) {
      throw new HclException(e.getMessage());
    }
    Duration challengeTimeout = c.optDuration("challenge_timeout", Duration.ofSeconds(60));
    if (challengeTimeout.isZero() || challengeTimeout.isNegative()) {
      throw new HclException("challenge_timeout must be positive");
    }
    boolean identityCheck = c.optBool("verifier_identity_check", true);
    boolean allowSha1 = c.optBool("allow_sha1", false);
    if (pcrPolicy.hashAlg() == Alg.SHA1 && !allowSha1) {
      throw new HclException("pcr_policy.bank = \"sha1\" needs allow_sha1 = true (SHA-1 is refused by default)");
    }
    c.rejectUnknownKeys();
    return new ServerConfig(trustDomain, registrar, verifier, ekCas, requireEkCert, states, requirePass,
        maxAge.isZero() ? Optional.empty() : Optional.of(maxAge), pcrPolicy, pcrSelectors, metaSelectors, path,
        challengeTimeout, identityCheck, allowSha1);
  }

  private static ClientSettings settings(String key, List<String> urls, TlsSettings tls, Duration timeout)
      throws HclException {
    if (urls.isEmpty()) {
      throw new HclException(key + " is required (e.g. [\"https://keylime.example:"
          + (key.startsWith("registrar") ? "8891" : "8881") + "\"])");
    }
    List<URI> uris = new ArrayList<>();
    for (String u : urls) {
      if (!u.toLowerCase(Locale.ROOT).startsWith("https://")) {
        throw new HclException(key + ": " + u + " must be an https:// URL (Keylime's status APIs need mTLS)");
      }
      uris.add(URI.create(u));
    }
    try {
      return new ClientSettings(uris, tls, timeout, Optional.empty());
    } catch (IllegalArgumentException e) {
      throw new HclException(key + ": " + e.getMessage());
    }
  }

  private static Set<OperationalState> states(List<String> names) throws HclException {
    if (names.isEmpty()) {
      return DEFAULT_STATES;
    }
    Set<OperationalState> out = EnumSet.noneOf(OperationalState.class);
    for (String n : names) {
      OperationalState s = null;
      for (OperationalState o : OperationalState.values()) {
        if (o.name().equalsIgnoreCase(n) || String.valueOf(o.code()).equals(n)) {
          s = o;
        }
      }
      if (s == null) {
        throw new HclException("attestation_policy.accepted_states: unknown state '" + n + "' (use names such as "
            + "get_quote, get_quote_retry, provide_v, provide_v_retry, or Keylime's codes 3-6)");
      }
      if (s.isFailure()) {
        throw new HclException("attestation_policy.accepted_states: " + n + " is a failure state and is never accepted");
      }
      out.add(s);
    }
    return out;
  }

  private static PcrPolicy pcrPolicy(HclConfig p) throws HclException {
    int bank;
    try {
      bank = WireFormat.hashAlg(p.optString("bank", "sha256"));
    } catch (EvidenceException e) {
      throw new HclException("pcr_policy.bank: " + e.getMessage());
    }
    List<Long> list = p.intList("pcrs");
    List<Integer> pcrs = new ArrayList<>();
    for (long pcr : list.isEmpty() ? List.of(16L) : list) {
      pcrs.add(pcrIndex("pcr_policy.pcrs", pcr));
    }
    Map<Integer, byte[]> expected = new LinkedHashMap<>();
    HclConfig values = p.block("expected");
    for (String k : values.keys()) {
      int pcr;
      try {
        pcr = pcrIndex("pcr_policy.expected", Long.parseLong(k));
      } catch (NumberFormatException e) {
        throw new HclException("pcr_policy.expected: key '" + k + "' is not a PCR index (write \"7\" = \"<hex>\")");
      }
      if (!pcrs.contains(pcr)) {
        throw new HclException("pcr_policy.expected: PCR " + pcr + " is not in pcr_policy.pcrs");
      }
      String hex = values.string(k);
      try {
        expected.put(pcr, HexFormat.of().parseHex(hex.toLowerCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        throw new HclException("pcr_policy.expected." + k + " must be hex");
      }
    }
    p.rejectUnknownKeys();
    return new PcrPolicy(bank, pcrs.stream().mapToInt(Integer::intValue).toArray(), expected);
  }

  private static int pcrIndex(String key, long pcr) throws HclException {
    if (pcr < 0 || pcr > 23) {
      throw new HclException(key + ": " + pcr + " is not a PCR index 0-23");
    }
    return (int) pcr;
  }
}
