package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.Pem;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.sdk.TrustDomain;
import io.github.keylimeattestor.sdk.hcl.Durations;
import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.server.revocation.RevocationConfig;
import io.github.keylimeattestor.server.trust.TrustConfig;
import io.github.keylimeattestor.sovereign.AgentIdentity;
import io.github.keylimeattestor.sovereign.AgentPathTemplate;
import io.github.keylimeattestor.sovereign.EvidenceException;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.github.keylimeattestor.sovereign.PcrPolicy;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.AlgorithmPolicy;
import io.github.keylimeattestor.tpm.Bytes;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
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
    boolean allowSha1,
    Optional<RevocationConfig> revocation,
    TpmBoundSvid tpmBoundSvid,
    TrustConfig trust) {

  ServerConfig(String trustDomain, ClientSettings registrar, ClientSettings verifier, List<X509Certificate> ekCaBundle,
      boolean requireEkCert, Set<OperationalState> acceptedStates, boolean requirePass,
      Optional<Duration> maxAttestationAge, PcrPolicy pcrPolicy, Set<Integer> pcrSelectors, Set<String> metaSelectors,
      AgentPathTemplate agentPath, Duration challengeTimeout, boolean verifierIdentityCheck, boolean allowSha1,
      Optional<RevocationConfig> revocation) {
    this(trustDomain, registrar, verifier, ekCaBundle, requireEkCert, acceptedStates, requirePass, maxAttestationAge,
        pcrPolicy, pcrSelectors, metaSelectors, agentPath, challengeTimeout, verifierIdentityCheck, allowSha1,
        revocation, TpmBoundSvid.OFF, TrustConfig.NONE);
  }

  ServerConfig(String trustDomain, ClientSettings registrar, ClientSettings verifier, List<X509Certificate> ekCaBundle,
      boolean requireEkCert, Set<OperationalState> acceptedStates, boolean requirePass,
      Optional<Duration> maxAttestationAge, PcrPolicy pcrPolicy, Set<Integer> pcrSelectors, Set<String> metaSelectors,
      AgentPathTemplate agentPath, Duration challengeTimeout, boolean verifierIdentityCheck, boolean allowSha1) {
    this(trustDomain, registrar, verifier, ekCaBundle, requireEkCert, acceptedStates, requirePass, maxAttestationAge,
        pcrPolicy, pcrSelectors, metaSelectors, agentPath, challengeTimeout, verifierIdentityCheck, allowSha1,
        Optional.empty(), TpmBoundSvid.OFF, TrustConfig.NONE);
  }

  /**
   * {@code require_tpm_bound_svid}: refuse an attestation that certifies no agent SVID key; {@code
   * svid_binding_directory}: where certified keys are recorded for CredentialComposer
   * "keylime_tpm_bound_svid" (which refuses agent SVIDs for any other key).
   */
  record TpmBoundSvid(boolean required, Optional<Path> bindingDirectory) {
    static final TpmBoundSvid OFF = new TpmBoundSvid(false, Optional.empty());
  }

  /**
   * Keylime's states while it attests the node. Not its retry states (Get Quote (retry), Provide V
   * (retry)): those mean the verifier cannot reach the node, and the freshness bound below already
   * covers a short outage.
   */
  static final Set<OperationalState> DEFAULT_STATES = EnumSet.of(OperationalState.GET_QUOTE, OperationalState.PROVIDE_V);
  /** Longest time since the verifier's last successful attestation; "0" in plugin_data turns the check off. */
  static final Duration DEFAULT_MAX_ATTESTATION_AGE = Duration.ofMinutes(5);
  static final Duration DEFAULT_CHALLENGE_TIMEOUT = Duration.ofSeconds(60);
  static final Duration MAX_CHALLENGE_TIMEOUT = Duration.ofMinutes(5);

  /**
   * Parses and checks everything that can be checked without the network, and reports every
   * problem at once (each one a note for {@code spire-server validate}).
   */
  static ServerConfig parse(String trustDomain, String hcl) throws HclException {
    HclConfig c = HclConfig.parse(hcl);
    TrustDomain.problem(trustDomain).ifPresent(c::problem);
    Duration timeout = c.optDuration("keylime_timeout", ClientSettings.DEFAULT_TIMEOUT);
    if (timeout.isZero() || timeout.isNegative()) {
      c.problem("keylime_timeout must be positive");
    }
    ClientSettings registrar = settings(c, "registrar_urls", "[\"https://keylime.example:8891\"]",
        c.attempt(() -> TlsConfig.forService(c, "registrar")), timeout);
    ClientSettings verifier = settings(c, "verifier_urls", "[\"https://keylime.example:8881\"]",
        c.attempt(() -> TlsConfig.forService(c, "verifier")), timeout);

    List<X509Certificate> ekCas = List.of();
    Optional<Path> ekCaPath = c.optFile("ek_ca_bundle");
    if (ekCaPath.isPresent()) {
      try {
        ekCas = Pem.readCertificates(ekCaPath.get());
      } catch (IOException e) {
        c.problem(c.name("ek_ca_bundle") + ": " + e.getMessage());
      }
    }
    boolean requireEkCert = c.optBool("require_ek_cert", false);
    if (requireEkCert && c.optString("ek_ca_bundle", "").isEmpty()) {
      c.problem("require_ek_cert = true needs ek_ca_bundle (the CA(s) that issue your TPMs' EK certificates)");
    }

    HclConfig status = c.block("attestation_policy");
    Set<OperationalState> states = states(status, status.nameOrCodeList("accepted_states"));
    boolean requirePass = status.optBool("require_status_pass", true);
    Duration maxAge = status.optDuration("max_attestation_age", DEFAULT_MAX_ATTESTATION_AGE);
    if (maxAge.isNegative()) {
      status.problem(status.name("max_attestation_age") + " must be a duration such as \"5m\", or \"0\" to turn "
          + "the freshness check off");
    }
    status.rejectUnknownKeys();

    PcrPolicy pcrPolicy = pcrPolicy(c.block("pcr_policy"));

    HclConfig sel = c.block("selectors");
    Set<Integer> pcrSelectors = new LinkedHashSet<>();
    for (long p : sel.intList("pcrs")) {
      Integer pcr = pcrIndex(sel, "pcrs", p);
      if (pcr != null && pcrPolicy != null && !pcrPolicy.pcrs().contains(pcr)) {
        sel.problem("selectors.pcrs: PCR " + pcr + " is not in pcr_policy.pcrs, so it is never quoted");
      }
      if (pcr != null) {
        pcrSelectors.add(pcr);
      }
    }
    Set<String> metaSelectors = new LinkedHashSet<>(sel.stringList("meta_keys"));
    sel.rejectUnknownKeys();

    AgentPathTemplate path = null;
    try {
      path = AgentPathTemplate.parse(c.optString("agent_path_template", AgentPathTemplate.DEFAULT));
    } catch (IllegalArgumentException e) {
      c.problem(e.getMessage()); // names agent_path_template itself
    }
    if (path != null && !requireEkCert
        && (path.fields().contains("TPMManufacturer") || path.fields().contains("TPMModel"))) {
      // they come from a verified EK certificate only: without require_ek_cert every node lacking one is refused
      c.problem("agent_path_template uses .TPMManufacturer or .TPMModel, which come from a verified EK certificate "
          + "only: set require_ek_cert = true (with ek_ca_bundle), or leave them out of the template");
    }
    Duration challengeTimeout = c.optDuration("challenge_timeout", DEFAULT_CHALLENGE_TIMEOUT);
    if (challengeTimeout.isZero() || challengeTimeout.isNegative()) {
      c.problem("challenge_timeout must be positive");
    } else if (challengeTimeout.compareTo(MAX_CHALLENGE_TIMEOUT) > 0) {
      // the verifier's verdict is read when the payload comes: it must still be news when the answer does
      c.problem("challenge_timeout must be at most 5m (the Keylime verifier's verdict, read before the challenge, "
          + "must not be older than that when the node answers)");
    }
    boolean identityCheck = c.optBool("verifier_identity_check", true);
    boolean allowSha1 = c.optBool("allow_sha1", false);
    if (pcrPolicy != null && pcrPolicy.hashAlg() == Alg.SHA1 && !allowSha1) {
      c.problem("pcr_policy.bank = \"sha1\" needs allow_sha1 = true (SHA-1 is refused by default)");
    }
    Optional<RevocationConfig> revocation = RevocationConfig.parse(c);
    TpmBoundSvid tpmBoundSvid = tpmBoundSvid(c);
    TrustConfig trust = TrustConfig.parse(c);
    // An ek_hash_allow_list is no substitute: it says a TPM is one of ours, not that it is this UUID's.
    if (!identityCheck && path != null && !path.namesTheEk() && trust.ekBindingSocket().isEmpty()) {
      c.problem("verifier_identity_check = false needs {{ .EKHash }} in agent_path_template or an ek_binding block: "
          + "the verifier's status names no AK, and its identity check is what ties Keylime's PASS to the AK that "
          + "signed the quote, so without it a host that re-registers a node's UUID with its own TPM would get that "
          + "node's agent ID (an ek_hash_allow_list does not prevent that: the host's TPM may be listed too)");
    }
    c.rejectUnknownKeys();
    c.throwIfProblems();
    return new ServerConfig(trustDomain, registrar, verifier, ekCas, requireEkCert, states, requirePass,
        maxAge.isZero() ? Optional.empty() : Optional.of(maxAge), pcrPolicy, pcrSelectors, metaSelectors, path,
        challengeTimeout, identityCheck, allowSha1, revocation, tpmBoundSvid, trust);
  }

  private static TpmBoundSvid tpmBoundSvid(HclConfig c) {
    boolean required = c.optBool("require_tpm_bound_svid", false);
    String dir = c.optString("svid_binding_directory", "");
    if (required && dir.isEmpty()) {
      c.problem("require_tpm_bound_svid = true needs svid_binding_directory (a private directory, e.g. "
          + "\"/var/lib/spire/server/keylime-svid-bindings\", which CredentialComposer \"keylime_tpm_bound_svid\" "
          + "reads too)");
    }
    if (dir.isEmpty()) {
      return new TpmBoundSvid(required, Optional.empty());
    }
    Path p = Path.of(dir);
    io.github.keylimeattestor.server.svid.SvidBindings.checkPrivate("svid_binding_directory", p).ifPresent(c::problem);
    return new TpmBoundSvid(required, Optional.of(p));
  }

  /** What the evidence checks take from this configuration. */
  EvidenceVerifier.Policy evidencePolicy() {
    return new EvidenceVerifier.Policy(pcrPolicy, new AlgorithmPolicy(allowSha1), ekCaBundle, requireEkCert);
  }

  /** What the agent ID and selectors take from this configuration (the plugin name is "keylime"). */
  AgentIdentity.Policy identityPolicy() {
    return new AgentIdentity.Policy("keylime", trustDomain, agentPath, pcrSelectors, metaSelectors);
  }

  /**
   * The agent ID is a function of the EK alone ({{ .EKHash }} and no UUID or App Key in
   * agent_path_template): one TPM has one agent ID, so ek_binding has nothing to add.
   */
  boolean agentIdNamesTheEkAlone() {
    return agentPath != null && agentPath.namesTheEkAlone();
  }

  /** What a valid configuration still deserves a word about (Validate's notes). */
  List<String> warnings() {
    List<String> notes = new ArrayList<>();
    if (maxAttestationAge.isEmpty()) {
      notes.add("attestation_policy.max_attestation_age = \"0\": freshness is not checked, so a node that blocks its "
          + "Keylime verifier keeps its last PASS for ever (a node never attested successfully is still refused)");
    }
    if (acceptedStates.contains(OperationalState.GET_QUOTE_RETRY) || acceptedStates.contains(OperationalState.PROVIDE_V_RETRY)) {
      notes.add("attestation_policy.accepted_states accepts a retry state: the verifier cannot reach that node right "
          + "now" + (maxAttestationAge.isEmpty() ? "" : "; max_attestation_age " + Durations.format(maxAttestationAge.get()) + " bounds it"));
    }
    return notes;
  }

  private static ClientSettings settings(HclConfig c, String key, String example, TlsSettings tls, Duration timeout) {
    List<String> urls = c.stringList(key);
    if (urls.isEmpty()) {
      if (!c.has(key)) {
        c.missing(key, example);
      } else {
        c.problem(key + " is empty: give at least one URL, e.g. " + example);
      }
      return null;
    }
    List<URI> uris = new ArrayList<>();
    for (String u : urls) {
      URI uri;
      try {
        uri = new URI(u);
      } catch (URISyntaxException e) {
        c.problem(key + ": \"" + u + "\" is not a URL (" + e.getReason() + "), e.g. " + example);
        continue;
      }
      if (!"https".equalsIgnoreCase(uri.getScheme())) {
        c.problem(key + ": " + u + " must be an https:// URL (Keylime's status APIs need mTLS)");
      } else if (uri.getHost() == null) {
        c.problem(key + ": \"" + u + "\" has no host name, e.g. " + example);
      } else {
        uris.add(uri);
      }
    }
    if (uris.size() != urls.size() || tls == null) {
      return null;
    }
    try {
      return new ClientSettings(uris, tls, timeout, Optional.empty());
    } catch (IllegalArgumentException e) {
      c.problem(key + ": " + e.getMessage());
      return null;
    }
  }

  private static Set<OperationalState> states(HclConfig status, List<String> names) {
    if (names.isEmpty()) {
      if (status.has("accepted_states")) {
        status.problem("attestation_policy.accepted_states = [] would accept no node: leave it out for the default "
            + "[\"get_quote\", \"provide_v\"]");
      }
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
        status.problem("attestation_policy.accepted_states: unknown state '" + n + "' (use names such as "
            + "get_quote, get_quote_retry, provide_v, provide_v_retry, or Keylime's codes 3-6)");
      } else if (s.isFailure()) {
        status.problem("attestation_policy.accepted_states: " + n + " is a failure state and is never accepted");
      } else if (!s.isAttesting()) {
        status.problem("attestation_policy.accepted_states: " + n + " is not a state of a node under attestation "
            + "(Keylime's codes 3-6: get_quote, get_quote_retry, provide_v, provide_v_retry)");
      } else {
        out.add(s);
      }
    }
    return out;
  }

  private static String bankNames() {
    StringBuilder b = new StringBuilder();
    for (io.github.keylimeattestor.tpm.HashAlg h : io.github.keylimeattestor.tpm.HashAlg.values()) {
      b.append(b.length() == 0 ? "" : ", ").append(h.keylimeName());
    }
    return b.toString();
  }

  /** Null (with the problems recorded) if the policy is unusable. */
  private static PcrPolicy pcrPolicy(HclConfig p) {
    int problemsBefore = p.problems().size();
    int bank = 0;
    try {
      bank = WireFormat.hashAlg(p.optString("bank", "sha256"));
    } catch (EvidenceException e) {
      p.problem("pcr_policy.bank: " + e.getMessage() + "; use one of " + bankNames() + " (default sha256)");
    }
    List<Long> list = p.intList("pcrs");
    if (list.isEmpty() && p.has("pcrs")) {
      p.problem("pcr_policy.pcrs = [] would quote no PCR: leave it out for [16], or list the PCRs to quote");
    }
    List<Integer> pcrs = new ArrayList<>();
    for (long pcr : list.isEmpty() ? List.of(16L) : list) {
      Integer i = pcrIndex(p, "pcrs", pcr);
      if (i != null) {
        pcrs.add(i);
      }
    }
    Map<Integer, List<Bytes>> expected = new LinkedHashMap<>();
    HclConfig values = p.block("expected");
    for (String k : values.keys()) {
      List<String> hexes = values.stringList(k);
      Integer pcr;
      try {
        pcr = pcrIndex(p, "expected", Long.parseLong(k));
      } catch (NumberFormatException e) {
        p.problem("pcr_policy.expected: key '" + k + "' is not a PCR index (write \"7\" = \"<hex>\", or a list of "
            + "allowed values \"7\" = [\"<hex>\", \"<hex>\"])");
        continue;
      }
      if (pcr == null) {
        continue;
      }
      if (!pcrs.contains(pcr)) {
        p.problem("pcr_policy.expected: PCR " + pcr + " is not in pcr_policy.pcrs");
      }
      if (hexes.isEmpty()) {
        p.problem("pcr_policy.expected." + k + " lists no value: give the golden value(s) PCR " + k + " may hold");
        continue;
      }
      List<Bytes> golden = new ArrayList<>();
      for (String hex : hexes) {
        try {
          byte[] v = HexFormat.of().parseHex(hex.toLowerCase(Locale.ROOT));
          if (bank != 0 && v.length != digestSize(bank)) {
            p.problem("pcr_policy.expected." + k + ": \"" + hex + "\" is " + v.length + " bytes, a "
                + WireFormat.hashAlgName(bank) + " PCR holds " + digestSize(bank));
          }
          golden.add(Bytes.copyFrom(v));
        } catch (IllegalArgumentException e) {
          p.problem("pcr_policy.expected." + k + ": \"" + hex + "\" must be hex");
        }
      }
      expected.put(pcr, golden);
    }
    p.rejectUnknownKeys();
    if (p.problems().size() > problemsBefore) {
      return null;
    }
    return new PcrPolicy(bank, pcrs, expected);
  }

  private static int digestSize(int bank) {
    try {
      return Alg.digestSize(bank);
    } catch (io.github.keylimeattestor.tpm.TpmFormatException e) {
      return -1;
    }
  }

  /** Null (with a problem recorded) if {@code pcr} is not 0-23. */
  private static Integer pcrIndex(HclConfig c, String key, long pcr) {
    if (pcr < 0 || pcr > 23) {
      c.problem(c.name(key) + ": " + pcr + " is not a PCR index 0-23");
      return null;
    }
    return (int) pcr;
  }
}
