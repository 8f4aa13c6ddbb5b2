package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.keylime.KeyFilePermissions;
import io.github.keylimeattestor.keylime.KeylimeAgentClient;
import io.github.keylimeattestor.keylime.KeylimeException;
import io.github.keylimeattestor.keylime.KeylimeUnavailableException;
import io.github.keylimeattestor.sovereign.AppKeyBinding;
import io.github.keylimeattestor.sovereign.EvidenceException;
import io.github.keylimeattestor.sovereign.KeylimeAgentId;
import io.github.keylimeattestor.sovereign.SvidKeyBinding;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.AlgorithmPolicy;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.TpmException;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.TpmResponseException;
import io.github.keylimeattestor.tpm.TpmVerificationException;
import io.github.keylimeattestor.tpm.TpmVerifier;
import io.github.keylimeattestor.tpm.command.AttestResponse;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One AidAttestation on the agent side: {@link #payload()} (Keylime agent UUID + App Key public),
 * then {@link #answer} for the server's challenge (quote by the Keylime AK + TPM2_Certify of the
 * App Key by the same AK, both bound to the challenge nonce; and, with {@code svid_key_directory},
 * TPM2_Certify of each agent SVID key of the TPM KeyManager, bound to the nonce and its key ID).
 * Not thread-safe: one per stream.
 */
final class Attestation {
  private static final io.github.keylimeattestor.sdk.log.Log LOG =
      io.github.keylimeattestor.sdk.log.Log.named("keylime.agent");
  private final AgentConfig config;
  private final TpmAccess tpmAccess;
  private KeylimeAgentId agentId;
  private KeyBlob ak;
  private KeyBlob appKey;
  private Map<String, KeyBlob> svidKeys = Map.of();
  private final KeylimeAgentClients agentClients;
  private KeylimeAgentClient agentClient;

  Attestation(AgentConfig config, TpmAccess tpmAccess) {
    this(config, tpmAccess, new KeylimeAgentClients());
  }

  Attestation(AgentConfig config, TpmAccess tpmAccess, KeylimeAgentClients agentClients) {
    this.config = config;
    this.tpmAccess = tpmAccess;
    this.agentClients = agentClients;
  }

  KeylimeAgentId agentId() {
    return agentId;
  }

  byte[] payload() throws AttestationFailure {
    AgentData agentData = readAgentData();
    String hashAlg;
    try {
      ak = agentData.akBlob();
      hashAlg = WireFormat.hashAlgName(agentData.akHashAlgId());
    } catch (TpmFormatException | IllegalArgumentException e) {
      throw AttestationFailure.precondition("the AK in " + config.agentDataPath() + " is unusable: " + e.getMessage(), e);
    }
    agentId = resolveAgentId();
    checkKeyFile(config.appKeyPath(), "app_key_path", false);
    checkKeyDirectory(config.appKeyPath().toAbsolutePath().getParent(), "app_key_path's directory");
    appKey = tpmAccess.use(config, "loading the App Key from " + config.appKeyPath(), (tpm, ktpm) -> {
      KeyBlob loaded = AppKeyStore.loadOrCreate(config.appKeyPath(), ktpm, ak);
      svidKeys = loadableSvidKeys(ktpm);
      return loaded;
    });
    return WireFormat.encodePayload(agentId, appKey.publicArea(), hashAlg);
  }

  byte[] answer(byte[] challengeBytes) throws AttestationFailure {
    if (appKey == null) {
      throw new IllegalStateException("challenge before payload");
    }
    WireFormat.Challenge challenge;
    try {
      challenge = WireFormat.decodeChallenge(challengeBytes);
    } catch (EvidenceException e) {
      throw AttestationFailure.invalidArgument("the server's challenge is malformed: " + e.getMessage()
          + " (are the agent and server plugins the same version?)", e);
    }
    byte[] certifyData = AppKeyBinding.certifyQualifyingData(challenge.nonce());
    List<KeylimeTpm.ToCertify> toCertify = new ArrayList<>();
    toCertify.add(new KeylimeTpm.ToCertify(appKey, certifyData));
    svidKeys.forEach((id, blob) -> toCertify.add(
        new KeylimeTpm.ToCertify(blob, SvidKeyBinding.certifyQualifyingData(challenge.nonce(), id))));
    String what = svidKeys.isEmpty() ? "the App Key" : "the App Key and SVID keys " + String.join(",", svidKeys.keySet());
    String quote;
    List<AttestResponse> certifications;
    if (config.quoteSource() == AgentConfig.QuoteSource.TPM) {
      KeylimeTpm.MultiEvidence ev = tpmAccess.use(config, "quoting with the Keylime AK and certifying " + what,
          (tpm, ktpm) -> withAkHint(() -> ktpm.quoteAndCertifyAll(ak, challenge.nonce().quoteQualifyingData(),
              challenge.selection(), toCertify)));
      quote = ev.quote().encode();
      certifications = ev.certifications();
    } else {
      quote = identityQuote(challenge);
      certifications = tpmAccess.use(config, "certifying " + what + " with the Keylime AK",
          (tpm, ktpm) -> withAkHint(() -> ktpm.quoteAndCertifyAll(ak, null, null, toCertify).certifications()));
    }
    Map<String, WireFormat.Certification> certifiedSvidKeys = new LinkedHashMap<>();
    int i = 1;
    for (Map.Entry<String, KeyBlob> k : svidKeys.entrySet()) {
      certifiedSvidKeys.put(k.getKey(), certification(k.getValue(), certifications.get(i++)));
    }
    return WireFormat.encodeAttestation(agentId, challenge.nonce(), quote, certification(appKey, certifications.get(0)),
        certifiedSvidKeys);
  }

  private static WireFormat.Certification certification(KeyBlob key, AttestResponse c) {
    return new WireFormat.Certification(key.publicArea(), c.attest(), c.signature());
  }

  /**
   * The TPM KeyManager's keys this TPM can load, by key ID. A blob the TPM definitively refuses (a
   * cleared TPM, another TPM's file) is skipped with a warning: the KeyManager replaces it when
   * spire-agent next generates that key, and it is no key of this TPM anyway.
   */
  private Map<String, KeyBlob> loadableSvidKeys(KeylimeTpm ktpm) throws IOException, TpmException, AttestationFailure {
    Map<String, KeyBlob> out = new java.util.TreeMap<>();
    for (Map.Entry<String, KeyBlob> k : svidKeyFiles().entrySet()) {
      try {
        // the server refuses the whole attestation (PermissionDenied) for a key it may not bind an SVID to
        AppKeyBinding.checkAttributes(k.getValue().publicArea());
      } catch (EvidenceException e) {
        LOG.warn("not certifying an SVID key blob that is no TPM-resident signing key", "key_id", k.getKey(),
            "svid_key_directory", String.valueOf(config.svidKeyDirectory().orElse(null)), "error", e.getMessage());
        continue;
      }
      try {
        ktpm.checkLoadable(k.getValue());
        out.put(k.getKey(), k.getValue());
      } catch (TpmResponseException e) {
        if (e.commandCode() != CommandCode.LOAD || e.responseCode().isWarning()) {
          throw e;
        }
        LOG.warn("not certifying an SVID key blob this TPM does not load", "key_id", k.getKey(),
            "svid_key_directory", String.valueOf(config.svidKeyDirectory().orElse(null)), "error", e.getMessage());
      }
    }
    return out;
  }

  /** The TPM KeyManager's key files (svid_key_directory), by key ID; none when it is not set. */
  private Map<String, KeyBlob> svidKeyFiles() throws AttestationFailure {
    if (config.svidKeyDirectory().isEmpty()) {
      return Map.of();
    }
    Path dir = config.svidKeyDirectory().get();
    Map<String, KeyBlob> keys;
    try {
      keys = new SvidKeyDirectory(dir).readAll();
    } catch (SvidKeyDirectory.UnsafeKeyFileException e) {
      throw AttestationFailure.precondition("svid_key_directory " + dir + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw AttestationFailure.unavailable("cannot read svid_key_directory " + dir + ": " + e.getMessage()
          + " (it must be the directory of KeyManager \"keylime_tpm\")", e);
    }
    if (keys.size() > SvidKeyBinding.MAX_KEYS) {
      throw AttestationFailure.precondition("svid_key_directory " + dir + " holds " + keys.size()
          + " key blobs; KeyManager \"keylime_tpm\" keeps " + SvidKeyBinding.MAX_KEYS + " at most: remove stray "
          + "*.tpmkey files", null);
    }
    return keys;
  }

  // ------------------------------------------------------------------ Keylime agent files and API

  /** Whoever may write the directory could put a key blob of theirs in place of ours (also the doctor's rule). */
  static void checkKeyDirectory(java.nio.file.Path dir, String what) throws AttestationFailure {
    try {
      KeyFilePermissions.checkDirectoryNotWritableByOthers(dir, what);
    } catch (IOException e) {
      throw AttestationFailure.precondition(e.getMessage(), e);
    }
  }

  /**
   * The plugin's owner and mode rules for a key file (also the doctor's), ssh's rule
   * (KeyFilePermissions): the App Key blob is ours, so private to this user; agent_data.json is the
   * Keylime agent's, so only "nobody else may write it".
   */
  static void checkKeyFile(java.nio.file.Path path, String key, boolean writtenByKeylime)
      throws AttestationFailure {
    try {
      if (writtenByKeylime) {
        KeyFilePermissions.checkNotWritableByOthers(path, key);
      } else {
        KeyFilePermissions.checkPrivate(path, key);
      }
    } catch (IOException e) {
      throw AttestationFailure.precondition(e.getMessage(), e);
    }
  }

  private AgentData readAgentData() throws AttestationFailure {
    checkKeyFile(config.agentDataPath(), "agent_data_path", true);
    return new AgentDataFile(config.agentDataPath()).read();
  }

  /**
   * The Keylime agent UUID, from the one source the configuration names: keylime_agent_uuid, the
   * uuid of the Keylime agent's config (a UUID, or "hash_ek": Keylime's hash of this TPM's EK), or
   * the Keylime agent's /agent/info.
   */
  KeylimeAgentId resolveAgentId() throws AttestationFailure {
    AgentConfig.UuidSource source = config.uuid();
    if (source instanceof AgentConfig.UuidSource.Explicit x) {
      return x.id();
    }
    if (!(source instanceof AgentConfig.UuidSource.AgentConf conf)) {
      return agentId(fetchUuid(), "the Keylime agent's /agent/info");
    }
    KeylimeAgentConf.Uuid uuid = uuidFromConf(conf.path());
    if (!"hash_ek".equals(uuid.value())) {
      return agentId(uuid.value(), "uuid in " + uuid.file());
    }
    TpmPublic ek = tpmAccess.use(config, "reading the EK for uuid = \"hash_ek\"", (tpm, ktpm) -> ktpm.ekPublic());
    try {
      return agentId(AgentData.ekHash(ek.toPublicKey()), "the EK hash (uuid = \"hash_ek\")");
    } catch (TpmFormatException e) {
      throw AttestationFailure.precondition("the TPM's EK holds no usable key for uuid = \"hash_ek\": "
          + e.getMessage(), e);
    }
  }

  private KeylimeAgentConf.Uuid uuidFromConf(java.nio.file.Path path) throws AttestationFailure {
    Optional<KeylimeAgentConf.Uuid> v;
    try {
      v = KeylimeAgentConf.uuid(path);
    } catch (IOException e) {
      throw AttestationFailure.unavailable("cannot read the Keylime agent's config " + path + ": " + e.getMessage()
          + " (check keylime_agent_config)", e);
    }
    if (v.isEmpty()) {
      throw AttestationFailure.precondition("no uuid in [agent] of " + KeylimeAgentConf.sources(path) + ", so the "
          + "Keylime agent uses its default UUID, which cannot identify one node: set uuid in the Keylime agent's "
          + "config", null);
    }
    if (v.get().value().equals("generate")) {
      throw AttestationFailure.precondition(v.get().file() + " has uuid = \"generate\" (a new random UUID at every "
          + "Keylime agent start): set keylime_agent_url to read it from the agent, or give the agent a fixed uuid",
          null);
    }
    return v.get();
  }

  /** TLS files are re-read at each attestation; the client is kept while they are unchanged. */
  private KeylimeAgentClient agentClient() throws AttestationFailure {
    if (agentClient != null) {
      return agentClient;
    }
    AgentConfig.KeylimeAgentEndpoint endpoint = config.keylimeAgent().orElseThrow();
    try {
      agentClient = agentClients.forSettings(endpoint.settings(config.timeout()));
      return agentClient;
    } catch (IOException | IllegalArgumentException e) {
      throw AttestationFailure.precondition("cannot set up TLS to the Keylime agent at " + endpoint.url() + ": "
          + e.getMessage() + " (check keylime_agent_tls)", e);
    }
  }

  private String fetchUuid() throws AttestationFailure {
    try {
      return agentClient().getInfo().agentUuid();
    } catch (KeylimeException e) {
      throw keylimeFailure("reading /agent/info", e);
    }
  }

  /** The Keylime agent's identity quote, checked here so that a mismatch is reported on this node. */
  private String identityQuote(WireFormat.Challenge challenge) throws AttestationFailure {
    String quote;
    try {
      quote = agentClient().getIdentityQuote(challenge.nonce().text()).quote();
    } catch (KeylimeException e) {
      throw keylimeFailure("asking for an identity quote", e);
    }
    String url = config.keylimeAgent().orElseThrow().url().toString();
    TpmVerifier.VerifiedQuote verified;
    try {
      // whether SHA-1 is acceptable is the server's policy (allow_sha1); here: is it this AK's quote
      verified = TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.ALLOW_SHA1).verifyQuote(KeylimeQuote.parse(quote),
          challenge.nonce().quoteQualifyingData());
    } catch (TpmFormatException e) {
      throw AttestationFailure.precondition("the Keylime agent at " + url + " returned a malformed quote: "
          + e.getMessage(), e);
    } catch (TpmVerificationException e) {
      throw AttestationFailure.precondition("the Keylime agent's quote does not verify with the AK in "
          + config.agentDataPath() + " (" + e.getMessage() + "): keylime_agent_url and agent_data_path must name the "
          + "same Keylime agent", e);
    }
    if (!verified.attest().quote().pcrSelect().covers(challenge.selection())) {
      throw AttestationFailure.precondition("the server asks for PCRs " + challenge.selection() + " but the Keylime "
          + "agent's identity quote covers only " + verified.attest().quote().pcrSelect()
          + ": use quote_source = \"tpm\", or a server PCR policy of PCR 16 only", null);
    }
    return quote;
  }

  private AttestationFailure keylimeFailure(String what, KeylimeException e) {
    String url = config.keylimeAgent().map(x -> x.url().toString()).orElse("?");
    if (e instanceof KeylimeUnavailableException) {
      return AttestationFailure.unavailable("the Keylime agent at " + url + " is unavailable while " + what + ": "
          + e.getMessage() + " (is it running? check keylime_agent_url)", e);
    }
    // TLS refusals name the keylime_agent_tls key (or the Keylime agent's trusted_client_ca) to fix
    String hint = "";
    return AttestationFailure.precondition("the Keylime agent at " + url + " failed while " + what + ": "
        + e.getMessage() + hint, e);
  }

  private static KeylimeAgentId agentId(String value, String source) throws AttestationFailure {
    try {
      return KeylimeAgentId.parse(value);
    } catch (EvidenceException e) {
      throw AttestationFailure.precondition("Keylime agent UUID from " + source + ": " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------ TPM error hints

  private interface TpmCall<T> {
    T call() throws IOException, TpmException;
  }

  /** The App Key was just loaded; a TPM2_Load failure now is the Keylime AK not loading under the EK. */
  private <T> T withAkHint(TpmCall<T> call) throws IOException, TpmException, AttestationFailure {
    try {
      return call.call();
    } catch (TpmResponseException e) {
      if (e.commandCode() != CommandCode.LOAD || e.responseCode().isWarning()) {
        throw e;
      }
      throw AttestationFailure.precondition("the TPM does not load the Keylime AK from " + config.agentDataPath()
          + " under the EK (" + e.getMessage() + "): check that the file belongs to the Keylime agent on this TPM, "
          + "and ek_handle / ek_algorithm", e);
    }
  }
}
