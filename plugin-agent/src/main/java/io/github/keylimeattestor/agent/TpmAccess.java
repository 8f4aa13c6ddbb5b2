package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.TpmException;
import io.github.keylimeattestor.tpm.TpmResponseException;
import io.github.keylimeattestor.tpm.TpmRetry;
import io.github.keylimeattestor.tpm.TpmVerificationException;
import io.github.keylimeattestor.tpm.transport.TpmTransport;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One process-wide gate to the TPM. Each use opens the transport, runs one self-contained sequence
 * (KeylimeTpm flushes everything it loads) and closes it again: swtpm serves one connection at a
 * time and the Keylime agent shares the TPM, so nothing is held between uses, and a failed use
 * leaves nothing behind for the next attestation.
 */
final class TpmAccess {
  static final long LOCK_WAIT_SECONDS = 60;

  interface Work<T> {
    T run(Tpm tpm, KeylimeTpm ktpm) throws IOException, TpmException, AttestationFailure;
  }

  private final ReentrantLock lock = new ReentrantLock(true);

  <T> T use(TpmSettings config, String what, Work<T> work) throws AttestationFailure {
    try {
      if (!lock.tryLock(LOCK_WAIT_SECONDS, TimeUnit.SECONDS)) {
        throw AttestationFailure.unavailable("the TPM is busy with another attestation of this plugin for more than "
            + LOCK_WAIT_SECONDS + "s (while " + what + ")", null);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw AttestationFailure.unavailable("interrupted while waiting for the TPM", e);
    }
    try {
      return retrying(config, what, work);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Runs {@code work} on a freshly opened TPM; a transient TPM condition (slots or sessions taken by
   * other clients, TPM busy or testing, NV rate limit) is retried with backoff within the plugin's
   * {@code timeout}: the sequence flushes everything it loaded before it fails, so each try starts clean.
   */
  private static <T> T retrying(TpmSettings config, String what, Work<T> work) throws AttestationFailure {
    TpmRetry retry = new TpmRetry(config.timeout());
    String tpmName = config.tpmDescription();
    while (true) {
      TpmResponseException failed;
      try (Tpm tpm = new Tpm(open(config))) {
        tpmName = tpm.transport().toString();
        return work.run(tpm, new KeylimeTpm(tpm, config.ek(), KeylimeTpm.SRK));
      } catch (TpmResponseException e) {
        failed = e;
      } catch (AccessDeniedException e) {
        throw AttestationFailure.precondition("no permission to open the TPM " + tpmName
            + ": run spire-agent as a user that may use it (e.g. group tss for /dev/tpmrm0)", e);
      } catch (NoSuchFileException e) {
        throw AttestationFailure.unavailable("TPM device " + e.getFile() + " does not exist: check tcti "
            + "(e.g. \"device:/dev/tpmrm0\", \"tabrmd\" for tpm2-abrmd, \"swtpm:host=H,port=P\")", e);
      } catch (IOException e) {
        throw AttestationFailure.unavailable("cannot talk to the TPM (" + tpmName + ") while " + what + ": "
            + e.getMessage() + "; check tcti and that the TPM (or tpm2-abrmd) is up", e);
      } catch (TpmVerificationException e) {
        throw AttestationFailure.unavailable("TPM data changed while " + what + ": " + e.getMessage(), e);
      } catch (TpmException e) {
        throw AttestationFailure.precondition("unexpected TPM data while " + what + ": " + e.getMessage(), e);
      }
      try {
        if (!retry.again(failed)) {
          throw failure(what, tpmName, retry, failed);
        }
      } catch (InterruptedIOException e) {
        throw AttestationFailure.unavailable("interrupted while waiting to retry the TPM", e);
      }
    }
  }

  private static AttestationFailure failure(String what, String tpmName, TpmRetry retry, TpmResponseException e) {
    var explanation = TpmRetry.explain(e.responseCode());
    if (explanation.isPresent()) {
      return AttestationFailure.unavailable("the TPM (" + tpmName + ") is busy or out of resources while " + what
          + ", still after " + retry.tries() + " tries: " + e.getMessage() + ". Cause: " + explanation.get(), e);
    }
    if (e.responseCode().isWarning()) {
      return AttestationFailure.unavailable("the TPM (" + tpmName + ") is busy or out of resources while " + what
          + ": " + e.getMessage(), e);
    }
    return AttestationFailure.precondition("the TPM refused " + what + ": " + e.getMessage(), e);
  }

  private static TpmTransport open(TpmSettings config) throws IOException {
    int timeoutMillis = (int) Math.min(Integer.MAX_VALUE, config.timeout().toMillis());
    return config.tpm().open(timeoutMillis);
  }
}
