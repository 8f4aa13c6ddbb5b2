package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.TpmException;
import io.github.keylimeattestor.tpm.TpmResponseException;
import io.github.keylimeattestor.tpm.TpmVerificationException;
import io.github.keylimeattestor.tpm.transport.DeviceTransport;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import io.github.keylimeattestor.tpm.transport.TpmTransport;
import java.io.IOException;
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
  private static final long LOCK_WAIT_SECONDS = 60;

  interface Work<T> {
    T run(Tpm tpm, KeylimeTpm ktpm) throws IOException, TpmException, AttestationFailure;
  }

  private final ReentrantLock lock = new ReentrantLock(true);

  <T> T use(AgentConfig config, String what, Work<T> work) throws AttestationFailure {
    try {
      if (!lock.tryLock(LOCK_WAIT_SECONDS, TimeUnit.SECONDS)) {
        throw AttestationFailure.unavailable("the TPM is busy with another attestation of this plugin for more than "
            + LOCK_WAIT_SECONDS + "s (while " + what + ")", null);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw AttestationFailure.unavailable("interrupted while waiting for the TPM", e);
    }
    try (Tpm tpm = new Tpm(open(config))) {
      return work.run(tpm, new KeylimeTpm(tpm, config.ek(), KeylimeTpm.SRK));
    } catch (AccessDeniedException e) {
      throw AttestationFailure.precondition("no permission to open the TPM " + config.tpm()
          + ": run spire-agent as a user that may use it (e.g. group tss for /dev/tpmrm0)", e);
    } catch (NoSuchFileException e) {
      throw AttestationFailure.unavailable("TPM device " + config.tpm() + " does not exist: check tpm_device "
          + "(or set swtpm_address for a software TPM)", e);
    } catch (IOException e) {
      throw AttestationFailure.unavailable("cannot talk to the TPM (" + config.tpm() + ") while " + what + ": "
          + e.getMessage() + "; check tpm_device / swtpm_address and that the TPM is up", e);
    } catch (TpmResponseException e) {
      if (e.responseCode().isWarning()) {
        throw AttestationFailure.unavailable("the TPM is busy or out of resources while " + what + ": "
            + e.getMessage(), e);
      }
      throw AttestationFailure.precondition("the TPM refused " + what + ": " + e.getMessage(), e);
    } catch (TpmVerificationException e) {
      throw AttestationFailure.unavailable("TPM data changed while " + what + ": " + e.getMessage(), e);
    } catch (TpmException e) {
      throw AttestationFailure.precondition("unexpected TPM data while " + what + ": " + e.getMessage(), e);
    } finally {
      lock.unlock();
    }
  }

  private static TpmTransport open(AgentConfig config) throws IOException {
    int timeoutMillis = (int) Math.min(Integer.MAX_VALUE, config.timeout().toMillis());
    if (config.tpm() instanceof AgentConfig.TpmAddress.Swtpm s) {
      return new SwtpmTransport(s.host(), s.port(), false, timeoutMillis);
    }
    return new DeviceTransport(((AgentConfig.TpmAddress.Device) config.tpm()).path());
  }
}
