package io.github.keylimeattestor.tpm;

import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.github.keylimeattestor.tpm.testing.Tabrmd;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Wall time of one agent-side quote+certify cycle on a fresh swtpm (load the App Key under a
 * created storage primary and park its context, load the Keylime AK under the persistent EK with a
 * PolicySecret session, quote PCR 16, load the App Key's context, certify it, flush everything).
 * Prints median and p99 of N (default 200) cycles after 20 warm-up cycles, for: our client alone;
 * beside a resident object of another client (as the Keylime agent keeps its AK); and through
 * tpm2-abrmd beside another abrmd client that keeps 3 objects loaded (skipped without tpm2-abrmd).
 * Args: [cycles] [pcr list, e.g. 16 or 0,1,2,...].
 */
public final class CycleTiming {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    int[] pcrs = args.length > 1
        ? Arrays.stream(args[1].split(",")).mapToInt(Integer::parseInt).toArray() : new int[] {16};
    PcrSelection sel = PcrSelection.of(Alg.SHA256, pcrs);
    try (Swtpm swtpm = Swtpm.start()) {
      KeylimeTpm k = new KeylimeTpm(swtpm.tpm());
      KeyBlob ak = new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256));
      KeyBlob app = k.createAppKey(Templates.appKeyEccP256());
      time("alone", k, ak, app, sel, n);
      int held = swtpm.tpm().execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256())).handle();
      time("beside 1 resident foreign object", k, ak, app, sel, n);
      swtpm.tpm().execute(new FlushContext(held));
      if (!k.transientHandles().isEmpty()) {
        throw new IllegalStateException("transient handles left: " + k.transientHandles());
      }
      Tabrmd abrmd;
      try {
        abrmd = Tabrmd.start(swtpm.tcti());
      } catch (AssertionError | java.io.IOException e) {
        System.out.println("tpm2-abrmd not available, skipped: " + e.getMessage());
        return;
      }
      try (abrmd; Tpm foreign = abrmd.tpm(); Tpm viaAbrmd = abrmd.tpm()) {
        for (int i = 0; i < 3; i++) {
          foreign.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256()));
        }
        time("through tpm2-abrmd (one connection), beside a client holding 3 objects", new KeylimeTpm(viaAbrmd),
            ak, app, sel, n);
      }
    }
  }

  private static void time(String what, KeylimeTpm k, KeyBlob ak, KeyBlob app, PcrSelection sel, int n)
      throws Exception {
    long[] nanos = new long[n];
    for (int i = -20; i < n; i++) {
      byte[] nonce = String.format("%064d", i + 20).getBytes(StandardCharsets.US_ASCII);
      long t0 = System.nanoTime();
      k.quoteAndCertify(ak, nonce, sel, app, Arrays.copyOf(nonce, 32));
      long dt = System.nanoTime() - t0;
      if (i >= 0) {
        nanos[i] = dt;
      }
    }
    Arrays.sort(nanos);
    double median = n % 2 == 1 ? nanos[n / 2] : (nanos[n / 2 - 1] + nanos[n / 2]) / 2.0;
    double p99 = nanos[(int) Math.ceil(0.99 * n) - 1];
    System.out.printf("quote+certify cycles, %s: n=%d, PCRs %s: median %.2f ms, p99 %.2f ms, min %.2f ms, "
        + "max %.2f ms%n", what, n, sel, median / 1e6, p99 / 1e6, nanos[0] / 1e6, nanos[n - 1] / 1e6);
  }
}
