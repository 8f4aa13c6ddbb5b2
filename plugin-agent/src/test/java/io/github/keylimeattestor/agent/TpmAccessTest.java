package io.github.keylimeattestor.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.transport.Tcti;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A TPM use that does not return (a device that never answers) holds the process-wide gate: later
 * uses fail after the wait with a message that names what is stuck and on which TPM. The transport
 * is /dev/null (opened, never written to: the work below sends no command).
 */
class TpmAccessTest {
  @Test
  void aUseStuckPastItsTimeoutIsNamedInTheFailureOfTheNext() throws Exception {
    TpmAccess access = new TpmAccess(300);
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CompletableFuture<Integer> stuck = holdTheTpm(access, settings(Duration.ofMillis(50)), entered, release);
    assertTrue(entered.await(10, TimeUnit.SECONDS));

    AttestationFailure f = assertThrows(AttestationFailure.class,
        () -> access.use(settings(Duration.ofMillis(50)), "certifying the App Key", (tpm, k) -> 2));
    assertEquals(Status.Code.UNAVAILABLE, f.code());
    String m = f.getMessage();
    assertTrue(m.startsWith("the TPM is busy for more than 300ms (while certifying the App Key): this plugin has "
        + "been quoting with the Keylime AK on device:/dev/null for "), m);
    assertTrue(m.contains("past its timeout of 50ms"), m);
    assertTrue(m.contains("tpm2_getcap") && m.contains("restart spire-agent"), m);

    release.countDown();
    assertEquals(1, (int) stuck.get(10, TimeUnit.SECONDS));
    int next = access.use(settings(Duration.ofMillis(50)), "certifying the App Key", (tpm, k) -> 3);
    assertEquals(3, next);
  }

  @Test
  void aUseWithinItsTimeoutIsReportedAsBusyNotStuck() throws Exception {
    TpmAccess access = new TpmAccess(200);
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CompletableFuture<Integer> busy = holdTheTpm(access, settings(Duration.ofMinutes(5)), entered, release);
    assertTrue(entered.await(10, TimeUnit.SECONDS));
    try {
      AttestationFailure f = assertThrows(AttestationFailure.class,
          () -> access.use(settings(Duration.ofMinutes(5)), "signing with SVID key k1", (tpm, k) -> 2));
      assertEquals(Status.Code.UNAVAILABLE, f.code());
      assertTrue(f.getMessage().contains("within its timeout of 300s"), f.getMessage());
      assertTrue(!f.getMessage().contains("stopped answering"), f.getMessage());
    } finally {
      release.countDown();
    }
    assertEquals(1, (int) busy.get(10, TimeUnit.SECONDS));
  }

  /** tpm2-abrmd's TCTI failing (a code of layer 10, not the TPM's): the TPM is unreachable, not refusing. */
  @Test
  void aFailureOfTheResourceManagersTctiIsUnavailableNotARefusal() {
    TpmAccess access = new TpmAccess(300);
    AttestationFailure f = assertThrows(AttestationFailure.class, () -> access.use(settings(Duration.ofMillis(50)),
        "quoting with the Keylime AK", (tpm, k) -> {
          throw new io.github.keylimeattestor.tpm.TpmResponseException(0x158,
              io.github.keylimeattestor.tpm.ResponseCode.decode(0x000A000A));
        }));
    assertEquals(Status.Code.UNAVAILABLE, f.code());
    assertTrue(f.getMessage().contains("cannot talk to the TPM") && f.getMessage().contains("TSS2_BASE_RC_IO_ERROR"),
        f.getMessage());
  }

  private static CompletableFuture<Integer> holdTheTpm(TpmAccess access, TpmSettings settings,
      CountDownLatch entered, CountDownLatch release) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return access.use(settings, "quoting with the Keylime AK", (tpm, k) -> {
          entered.countDown();
          try {
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return 1;
        });
      } catch (AttestationFailure e) {
        throw new IllegalStateException(e);
      }
    });
  }

  private static TpmSettings settings(Duration timeout) {
    return new TpmSettings() {
      @Override
      public Tcti.Spec tpm() {
        return new Tcti.Spec.Device(Path.of("/dev/null"));
      }

      @Override
      public String tpmDescription() {
        return "device:/dev/null";
      }

      @Override
      public KeylimeTpm.Primary ek() {
        return KeylimeTpm.EK_RSA;
      }

      @Override
      public Duration timeout() {
        return timeout;
      }
    };
  }
}
