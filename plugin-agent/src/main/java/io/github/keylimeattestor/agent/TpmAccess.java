package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.sdk.log.Log;
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
import java.time.Duration;
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
  private static final Log LOG = Log.named("keylime.agent").child("tpm");

  interface Work<T> {
    T run(Tpm tpm, KeylimeTpm ktpm) throws IOException, TpmException, AttestationFailure;
  }

  private final ReentrantLock lock = new ReentrantLock(true);
  private final long lockWaitMillis;
  // What the lock's holder is doing, for the message of those that time out behind it.
  private volatile Holder holder;

  record Holder(String what, String tpm, Duration timeout, long sinceNanos) {}

  TpmAccess() {
    this(TimeUnit.SECONDS.toMillis(LOCK_WAIT_SECONDS));
  }

  /** For tests, which cannot wait a minute. */
  TpmAccess(long lockWaitMillis) {
    this.lockWaitMillis = lockWaitMillis;
  }

  <T> T use(TpmSettings config, String what, Work<T> work) throws AttestationFailure {
    try {
      if (!lock.tryLock(lockWaitMillis, TimeUnit.MILLISECONDS)) {
        throw busy(what, holder, lockWaitMillis);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw AttestationFailure.unavailable("interrupted while waiting for the TPM", e);
    }
    holder = new Holder(what, config.tpmDescription(), config.timeout(), System.nanoTime());
    try {
      return retrying(config, what, work);
    } finally {
      holder = null;
      lock.unlock();
    }
  }

  /**
   * A use that does not return keeps the lock (each transport times a command out, but a device
   * driver that sleeps uninterruptibly keeps even the closing thread waiting): every later one fails
   * here, naming what is stuck, instead of queuing for ever.
   */
  private static AttestationFailure busy(String what, Holder h, long waitedMillis) {
    String waited = words(Duration.ofMillis(waitedMillis));
    if (h == null) {
      return AttestationFailure.unavailable("the TPM is busy with another request of this plugin for more than "
          + waited + " (while " + what + ")", null);
    }
    Duration held = Duration.ofNanos(System.nanoTime() - h.sinceNanos());
    String holding = "this plugin has been " + h.what() + " on " + h.tpm() + " for " + words(held);
    if (held.compareTo(h.timeout()) <= 0) {
      return AttestationFailure.unavailable("the TPM is busy for more than " + waited + " (while " + what + "): "
          + holding + ", within its timeout of " + words(h.timeout()), null);
    }
    return AttestationFailure.unavailable("the TPM is busy for more than " + waited + " (while " + what + "): "
        + holding + ", past its timeout of " + words(h.timeout()) + ", waiting for one TPM command to answer. "
        + "The TPM or its resource manager has stopped answering: check it with tpm2-tools over the same TCTI "
        + "(e.g. tpm2_getcap properties-fixed) and restart spire-agent once it answers", null);
  }

  private static String words(Duration d) {
    return d.compareTo(Duration.ofSeconds(10)) < 0 ? d.toMillis() + "ms" : d.toSeconds() + "s";
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
        throw unreachable(tpmName, what, e.getMessage() + "; check tcti and that the TPM (or tpm2-abrmd) is up", e);
      } catch (TpmVerificationException e) {
        throw AttestationFailure.unavailable("TPM data changed while " + what + ": " + e.getMessage(), e);
      } catch (TpmException e) {
        throw AttestationFailure.precondition("unexpected TPM data while " + what + ": " + e.getMessage(), e);
      }
      try {
        if (!retry.again(failed)) {
          throw failure(what, tpmName, retry, failed);
        }
        LOG.debug("TPM busy, trying again", "while", what, "tpm", tpmName, "code", failed.responseCode().name(),
            "try", retry.tries());
      } catch (InterruptedIOException e) {
        throw AttestationFailure.unavailable("interrupted while waiting to retry the TPM", e);
      }
    }
  }

  private static AttestationFailure failure(String what, String tpmName, TpmRetry retry, TpmResponseException e) {
    if (e.responseCode().fromSoftwareStack()) {
      return unreachable(tpmName, what, e.getMessage(), e);
    }
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

  private static AttestationFailure unreachable(String tpmName, String what, String detail, Exception e) {
    return AttestationFailure.unavailable("cannot talk to the TPM (" + tpmName + ") while " + what + ": " + detail, e);
  }

  private static TpmTransport open(TpmSettings config) throws IOException {
    int timeoutMillis = (int) Math.min(Integer.MAX_VALUE, config.timeout().toMillis());
    return config.tpm().openForSequence(timeoutMillis);
  }
}
