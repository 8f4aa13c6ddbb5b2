package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.sovereign.AppKeyBinding;
import io.github.keylimeattestor.sovereign.EvidenceException;
import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.TpmException;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.TpmResponseException;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.Templates;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The App Key: a signing key under the storage primary, created on first use, kept as a key blob
 * (mode 0600) at {@code app_key_path} and reused (the caller refuses a blob others can read or
 * replace, as ssh refuses such a private key). If the TPM can no longer load the blob (TPM
 * cleared, so a new storage primary; or the file is damaged) a new key is made, with a warning:
 * the node's {@code app_key} selector changes.
 */
final class AppKeyStore {
  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");
  private static final Log LOG = Log.named("keylime.agent").child("app_key");

  private AppKeyStore() {}

  /**
   * The App Key blob, proven loadable by this TPM. Call inside {@link TpmAccess#use}. The file's own
   * problems are FailedPrecondition naming app_key_path (an IOException here is the TPM's).
   */
  static KeyBlob loadOrCreate(Path path, KeylimeTpm ktpm, KeyBlob ak) throws IOException, TpmException, AttestationFailure {
    KeyBlob blob;
    try {
      blob = KeyBlob.parse(read(path), KeyBlob.DEFAULT_LIMIT);
    } catch (NoSuchFileException e) {
      return create(path, ktpm, null);
    } catch (TpmFormatException e) {
      return create(path, ktpm, "the file is not a TPM key blob (" + e.getMessage() + ")");
    }
    try {
      AppKeyBinding.checkAttributes(blob.publicArea());
    } catch (EvidenceException e) {
      return create(path, ktpm, e.getMessage());
    }
    try {
      ktpm.checkLoadable(blob);
    } catch (TpmResponseException e) {
      if (e.commandCode() != CommandCode.LOAD || e.responseCode().isWarning()) {
        throw e;
      }
      checkThisIsTheAksTpm(path, ktpm, ak, e);
      return create(path, ktpm, "the TPM no longer loads it (" + e.getMessage()
          + "): was the TPM cleared or the file replaced?");
    }
    return blob;
  }

  /**
   * Before a blob the TPM refuses is replaced: the Keylime AK must load. If it does not either, tcti
   * most likely names another TPM than both were made on, or the EK is not the one the AK was made
   * under (TPM2_Clear keeps the endorsement seed, so the AK survives it while the App Key, under the
   * storage primary, does not); the App Key is kept, as its loss would change the node's app_key
   * selector for good.
   */
  private static void checkThisIsTheAksTpm(Path path, KeylimeTpm ktpm, KeyBlob ak, TpmResponseException appKeyRefused)
      throws IOException, TpmException, AttestationFailure {
    try {
      ktpm.checkAkLoadable(ak);
    } catch (TpmResponseException e) {
      if (e.commandCode() != CommandCode.LOAD || e.responseCode().isWarning()) {
        throw e;
      }
      throw AttestationFailure.precondition("this TPM loads neither the App Key at app_key_path " + path
          + " (" + appKeyRefused.getMessage() + ") nor the Keylime AK (" + e.getMessage() + "): check that tcti names"
          + " the TPM the Keylime agent uses, and ek_handle / ek_algorithm its EK (a TPM whose endorsement seed"
          + " changed needs a new Keylime AK, then the App Key is replaced); the App Key is kept", e);
    }
  }

  /** A symbolic link, directory or other non-file at app_key_path is refused (a missing file is not). */
  static void checkNotALink(Path path) throws AttestationFailure {
    if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) && Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      throw AttestationFailure.precondition("app_key_path " + path + " is not a regular file (a symbolic link or"
          + " a directory): point app_key_path at the key blob itself, or at a path where none exists yet", null);
    }
  }

  private static byte[] read(Path path) throws NoSuchFileException, AttestationFailure {
    checkNotALink(path);
    try (var in = Files.newInputStream(path, LinkOption.NOFOLLOW_LINKS)) {
      return in.readNBytes(KeyBlob.DEFAULT_LIMIT + 1); // longer fails KeyBlob.parse: recreated
    } catch (NoSuchFileException e) {
      throw e;
    } catch (IOException e) {
      throw AttestationFailure.precondition("cannot read app_key_path " + path + " (" + e + "): spire-agent's user"
          + " must own it", e);
    }
  }

  private static KeyBlob create(Path path, KeylimeTpm ktpm, String whyReplaced)
      throws IOException, TpmException, AttestationFailure {
    KeyBlob blob = ktpm.createAppKey(Templates.appKeyEccP256());
    try {
      write(path, blob.marshal());
    } catch (IOException e) {
      throw AttestationFailure.precondition("cannot write the App Key to app_key_path " + path + " (" + e
          + "): spire-agent's user needs write access to its directory", e);
    }
    if (whyReplaced == null) {
      LOG.info("created the App Key", "app_key_path", path.toString());
    } else {
      LOG.warn("replaced the App Key: the node's app_key selector changes", "app_key_path", path.toString(),
          "reason", whyReplaced);
    }
    return blob;
  }

  /** Writes atomically (KeyBlobFile), making a missing directory 0700. */
  private static void write(Path path, byte[] bytes) throws IOException {
    Path dir = path.toAbsolutePath().getParent();
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
    }
    // again: it may have been made by someone else since the attestation checked it
    io.github.keylimeattestor.keylime.KeyFilePermissions.checkDirectoryNotWritableByOthers(dir, "app_key_path's directory");
    KeyBlobFile.writeAtomically(path, bytes);
  }

}
