package io.github.keylimeattestor.agent;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GenerateKeyRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GenerateKeyResponse;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GetPublicKeyRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GetPublicKeyResponse;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GetPublicKeysRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.GetPublicKeysResponse;
import io.github.keylimeattestor.proto.spire.agent.keymanager.KeyManagerGrpc;
import io.github.keylimeattestor.proto.spire.agent.keymanager.KeyType;
import io.github.keylimeattestor.proto.spire.agent.keymanager.PublicKey;
import io.github.keylimeattestor.proto.spire.agent.keymanager.SignDataRequest;
import io.github.keylimeattestor.proto.spire.agent.keymanager.SignDataResponse;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.Sha256;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.TpmResponseException;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Agent-side {@code KeyManager "keylime_tpm"}: spire-agent's SVID keys live in the node's TPM. Each
 * key is made by TPM2_Create under the storage primary (fixedTPM, fixedParent, sensitiveDataOrigin,
 * userWithAuth, sign; not decrypt, not restricted), kept as a blob in {@code directory} and used
 * with TPM2_Sign; the private part never exists outside the TPM. The NodeAttestor certifies these
 * keys with the Keylime AK at every attestation ({@code svid_key_directory}).
 *
 * <p>KeyManager v1 contract: GenerateKey replaces the key of that ID (new fingerprint: SHA-256 of the
 * SubjectPublicKeyInfo, as SPIRE's built-in KeyManagers), GetPublicKey(s), SignData answers with the
 * fingerprint of the key it used, NOT_FOUND for an unknown ID.
 */
final class TpmKeyManagerPlugin extends KeyManagerGrpc.KeyManagerImplBase implements Plugin {
  private final Log log = Log.named("keylime.keymanager");
  private final TpmAccess tpmAccess;
  /** Replaced whole by Configure, so SignData never sees it half loaded. */
  private volatile Map<String, Key> keys = new ConcurrentHashMap<>();
  /** One GenerateKey at a time, so that the blob on disk and the key served for an ID are one key. */
  private final ReentrantLock generating = new ReentrantLock(true); // fair: GenerateKeys of one ID in the order asked
  private volatile TpmKeyManagerConfig config;
  private volatile SvidKeyDirectory store;

  /** A key blob with what SPIRE sees of it. */
  record Key(String id, KeyType type, KeyBlob blob, byte[] pkix, String fingerprint) {
    PublicKey toProto() {
      return PublicKey.newBuilder().setId(id).setType(type).setPkixData(ByteString.copyFrom(pkix))
          .setFingerprint(fingerprint).build();
    }
  }

  TpmKeyManagerPlugin() {
    this(new TpmAccess());
  }

  /** {@code tpmAccess} is shared with the NodeAttestor when both run in one process (tests). */
  TpmKeyManagerPlugin(TpmAccess tpmAccess) {
    this.tpmAccess = tpmAccess;
  }

  @Override
  public String name() {
    return "keylime_tpm";
  }

  @Override
  public String type() {
    return "KeyManager";
  }

  @Override
  public ServerServiceDefinition pluginService() {
    return bindService();
  }

  @Override
  public synchronized void configure(CoreConfiguration core, String hcl) throws StatusException {
    TpmKeyManagerConfig c;
    try {
      c = TpmKeyManagerConfig.parse(hcl);
    } catch (HclException e) {
      throw Status.INVALID_ARGUMENT.withDescription("keylime_tpm plugin_data: " + e.getMessage()).asException();
    }
    // SPIRE configures again on SIGUSR1 (plugin_data_file): not while a GenerateKey writes a blob, or
    // the blob read here could be the one that GenerateKey has just replaced
    lockGenerating();
    try {
      load(c);
    } finally {
      generating.unlock();
    }
  }

  /** Bounded, like the TPM's own lock: a stuck TPM must not pile up SPIRE's calls here forever. */
  private void lockGenerating() throws StatusException {
    try {
      if (!generating.tryLock(TpmAccess.LOCK_WAIT_SECONDS, TimeUnit.SECONDS)) {
        throw Status.UNAVAILABLE.withDescription("keylime_tpm: a GenerateKey has been running for more than "
            + TpmAccess.LOCK_WAIT_SECONDS + "s").asException();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.withDescription("interrupted while waiting for a GenerateKey").asException();
    }
  }

  private void load(TpmKeyManagerConfig c) throws StatusException {
    SvidKeyDirectory dir = new SvidKeyDirectory(c.directory(), "directory");
    Map<String, KeyBlob> blobs;
    try {
      blobs = dir.readAll();
    } catch (SvidKeyDirectory.UnsafeKeyFileException e) {
      throw Status.FAILED_PRECONDITION.withDescription("keylime_tpm: " + e.getMessage()).asException();
    } catch (IOException e) {
      throw Status.FAILED_PRECONDITION.withDescription("keylime_tpm: cannot read directory " + c.directory() + ": "
          + e.getMessage()).asException();
    }
    Map<String, Key> loaded = new ConcurrentHashMap<>();
    for (Map.Entry<String, KeyBlob> b : blobs.entrySet()) {
      Key k = describe(b.getKey(), b.getValue());
      if (k != null && usable(c, k)) {
        loaded.put(k.id(), k);
      }
    }
    for (String w : c.warnings()) {
      log.warn(w);
    }
    config = c;
    store = dir;
    keys = loaded;
    log.info("configured", "directory", c.directory().toString(), "tpm", c.tpmDescription(), "keys",
        String.join(",", loaded.keySet()));
  }

  /** False only when the TPM definitively refuses to load the blob (cleared TPM, another TPM): SPIRE then makes a new key. */
  private boolean usable(TpmKeyManagerConfig c, Key k) {
    try {
      return tpmAccess.use(c, "loading SVID key " + k.id(), (tpm, ktpm) -> {
        try {
          ktpm.checkLoadable(k.blob());
          return true;
        } catch (TpmResponseException e) {
          if (e.commandCode() != CommandCode.LOAD || e.responseCode().isWarning()) {
            throw e;
          }
          log.warn("the TPM no longer loads this SVID key; spire-agent will make a new one", "key_id", k.id(),
              "error", e.getMessage());
          return false;
        }
      });
    } catch (AttestationFailure e) {
      // TPM unreachable right now: keep the key, SignData reports the TPM's state when it is used
      log.warn("could not check an SVID key against the TPM", "key_id", k.id(), "error", e.getMessage());
      return true;
    }
  }

  @Override
  public Validation validate(CoreConfiguration core, String hcl) {
    try {
      return Validation.ok(TpmKeyManagerConfig.parse(hcl).warnings());
    } catch (HclException e) {
      return Validation.invalid(e.problems().stream().map(p -> "keylime_tpm plugin_data: " + p).toList());
    }
  }

  @Override
  public void generateKey(GenerateKeyRequest req, StreamObserver<GenerateKeyResponse> out) {
    answer(out, () -> {
      TpmKeyManagerConfig c = configured();
      String id = keyId(req.getKeyId());
      TpmPublic template = switch (req.getKeyType()) {
        case EC_P256 -> Templates.signingKey(Alg.ECC, Alg.ECC_NIST_P256);
        case EC_P384 -> Templates.signingKey(Alg.ECC, Alg.ECC_NIST_P384);
        case RSA_2048 -> Templates.signingKey(Alg.RSA, 2048);
        case RSA_4096 -> Templates.signingKey(Alg.RSA, 4096);
        case UNSPECIFIED_KEY_TYPE -> throw Status.INVALID_ARGUMENT.withDescription("key type is required").asException();
        default -> throw Status.INVALID_ARGUMENT.withDescription("unable to generate key \"" + id
            + "\" for unknown key type " + req.getKeyTypeValue()).asException();
      };
      lockGenerating();
      try {
        // a Configure (SIGUSR1 reload) may have swapped the configuration while this call waited for the lock
        TpmKeyManagerConfig now = configured();
        SvidKeyDirectory store = this.store;
        KeyBlob blob = tpm(now, "creating SVID key " + id + " in the TPM", (tpm, ktpm) -> ktpm.createSigningKey(template));
        Key k = describe(id, blob);
        if (k == null) {
          throw Status.INTERNAL.withDescription("the TPM made a key whose public area is unusable").asException();
        }
        // spire-agent gave up on this call (its deadline passed while the TPM was busy): a key it will
        // never use must not replace the one of this ID, which a later GenerateKey may have made
        if (io.grpc.Context.current().isCancelled()) {
          log.warn("spire-agent gave up on a GenerateKey before the TPM had made the key; not stored", "key_id", id);
          throw Status.CANCELLED.withDescription("GenerateKey " + id + " was cancelled by spire-agent (its "
              + "deadline passed) before the key was stored; the key of this ID is unchanged").asException();
        }
        try {
          store.write(id, blob);
        } catch (IOException e) {
          // a directory to fix (permissions, read-only) or a disk to free: spire-agent tries again
          Status status = e instanceof java.nio.file.FileSystemException || e instanceof SvidKeyDirectory.UnsafeKeyFileException
              ? Status.FAILED_PRECONDITION : Status.UNAVAILABLE;
          throw status.withDescription("keylime_tpm: cannot write the key blob to " + store.dir() + ": "
              + e + " (spire-agent needs write access to directory, and room on its file system)").asException();
        }
        keys.put(id, k);
        log.info("generated SVID key in the TPM", "key_id", id, "fingerprint", k.fingerprint());
        return GenerateKeyResponse.newBuilder().setPublicKey(k.toProto()).build();
      } finally {
        generating.unlock();
      }
    });
  }

  @Override
  public void getPublicKey(GetPublicKeyRequest req, StreamObserver<GetPublicKeyResponse> out) {
    answer(out, () -> {
      configured();
      if (req.getKeyId().isEmpty()) {
        throw Status.INVALID_ARGUMENT.withDescription("key id is required").asException();
      }
      Key k = keys.get(req.getKeyId());
      if (k == null) {
        throw Status.NOT_FOUND.withDescription("no such key \"" + req.getKeyId() + "\"").asException();
      }
      return GetPublicKeyResponse.newBuilder().setPublicKey(k.toProto()).build();
    });
  }

  @Override
  public void getPublicKeys(GetPublicKeysRequest req, StreamObserver<GetPublicKeysResponse> out) {
    answer(out, () -> {
      configured();
      GetPublicKeysResponse.Builder b = GetPublicKeysResponse.newBuilder();
      keys.values().stream().sorted(java.util.Comparator.comparing(Key::id)).forEach(k -> b.addPublicKeys(k.toProto()));
      return b.build();
    });
  }

  @Override
  public void signData(SignDataRequest req, StreamObserver<SignDataResponse> out) {
    answer(out, () -> {
      TpmKeyManagerConfig c = configured();
      if (req.getKeyId().isEmpty()) {
        throw Status.INVALID_ARGUMENT.withDescription("key id is required").asException();
      }
      Key k = keys.get(req.getKeyId());
      if (k == null) {
        throw Status.NOT_FOUND.withDescription("no such key \"" + req.getKeyId() + "\"").asException();
      }
      Scheme scheme = SignScheme.of(k.blob().publicArea(), req);
      byte[] digest = req.getData().toByteArray();
      if (digest.length != SignScheme.size(scheme.hashAlg())) {
        throw Status.INVALID_ARGUMENT.withDescription("data is " + digest.length + " bytes, not a "
            + SignScheme.name(scheme.hashAlg()) + " digest").asException();
      }
      TpmSignature sig = tpm(c, "signing with SVID key " + k.id(), (tpm, ktpm) -> ktpm.sign(k.blob(), digest, scheme));
      return SignDataResponse.newBuilder().setSignature(ByteString.copyFrom(SignScheme.encode(sig)))
          .setKeyFingerprint(k.fingerprint()).build();
    });
  }

  // ------------------------------------------------------------------ helpers

  private TpmKeyManagerConfig configured() throws StatusException {
    TpmKeyManagerConfig c = config;
    if (c == null) {
      throw Status.FAILED_PRECONDITION.withDescription("the keylime_tpm key manager is not configured").asException();
    }
    return c;
  }

  private static String keyId(String id) throws StatusException {
    if (id.isEmpty()) {
      throw Status.INVALID_ARGUMENT.withDescription("key id is required").asException();
    }
    if (!SvidKeyDirectory.validId(id)) {
      throw Status.INVALID_ARGUMENT.withDescription("key id \"" + id + "\" is not usable as a file name "
          + "(letters, digits, '.', '_', '-'; at most 64)").asException();
    }
    return id;
  }

  private <T> T tpm(TpmKeyManagerConfig c, String what, TpmAccess.Work<T> work) throws StatusException {
    try {
      return tpmAccess.use(c, what, work);
    } catch (AttestationFailure e) {
      log.warn("TPM use failed", "while", what, "code", e.code().name(), "error", e.getMessage());
      throw e.toStatus();
    }
  }

  /** The key as SPIRE sees it, or null (logged) if the blob's public area is not one SPIRE can use. */
  private Key describe(String id, KeyBlob blob) {
    TpmPublic pub = blob.publicArea();
    KeyType type;
    if (pub.type() == Alg.ECC && pub.curveId() == Alg.ECC_NIST_P256) {
      type = KeyType.EC_P256;
    } else if (pub.type() == Alg.ECC && pub.curveId() == Alg.ECC_NIST_P384) {
      type = KeyType.EC_P384;
    } else if (pub.type() == Alg.RSA && pub.keyBits() == 2048) {
      type = KeyType.RSA_2048;
    } else if (pub.type() == Alg.RSA && pub.keyBits() == 4096) {
      type = KeyType.RSA_4096;
    } else {
      log.warn("ignoring a key blob of a type SPIRE does not use", "key_id", id);
      return null;
    }
    try {
      // what the server requires of a key it binds an SVID to (sign only, made and kept in the TPM)
      io.github.keylimeattestor.sovereign.AppKeyBinding.checkAttributes(pub);
    } catch (io.github.keylimeattestor.sovereign.EvidenceException e) {
      log.warn("ignoring a key blob that is no TPM-resident signing key", "key_id", id, "error", e.getMessage());
      return null;
    }
    try {
      byte[] pkix = pub.toPublicKey().getEncoded();
      return new Key(id, type, blob, pkix, fingerprint(pkix));
    } catch (TpmFormatException e) {
      log.warn("ignoring a key blob with an unusable public area", "key_id", id, "error", e.getMessage());
      return null;
    }
  }

  static String fingerprint(byte[] pkix) {
    return Sha256.hex(pkix);
  }

  private interface Call<T> {
    T call() throws StatusException;
  }

  /** One unary answer; a bug becomes INTERNAL, never a dead plugin. */
  private <T> void answer(StreamObserver<T> out, Call<T> call) {
    T result;
    try {
      result = call.call();
    } catch (StatusException e) {
      out.onError(e);
      return;
    } catch (RuntimeException e) {
      log.error("key manager bug", "error", String.valueOf(e));
      out.onError(Status.INTERNAL.withDescription("keylime_tpm bug: " + e).asException());
      return;
    }
    out.onNext(result);
    out.onCompleted();
  }
}
