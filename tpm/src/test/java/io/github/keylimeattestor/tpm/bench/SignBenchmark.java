package io.github.keylimeattestor.tpm.bench;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.command.Auth;
import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.EvictControl;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.command.Load;
import io.github.keylimeattestor.tpm.command.Sign;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.Signature;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * TPM2_Sign latency on swtpm (not a test: prints figures). What KeyManager "keylime_tpm" pays per
 * SignData (new TPM connection, storage primary from its template, TPM2_Load, TPM2_Sign, flushes),
 * the same with a persistent storage primary at 0x81000001, TPM2_Sign alone on a loaded key, and
 * an in-memory JDK ECDSA P-256 signature (what SPIRE's disk KeyManager does). Median / p90 of N.
 * Usage: integration-tests/bench/tpm-sign.sh [N].
 */
public final class SignBenchmark {
  private SignBenchmark() {}

  interface Op {
    void run() throws Exception;
  }

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    byte[] digest = MessageDigest.getInstance("SHA-256").digest("bench".getBytes());
    Scheme ecdsa = Scheme.of(Alg.ECDSA, Alg.SHA256);
    try (Swtpm swtpm = Swtpm.start()) {
      KeyBlob key;
      try (Tpm tpm = swtpm.tpm()) {
        key = new KeylimeTpm(tpm).createSigningKey(Templates.signingKey(Alg.ECC, Alg.ECC_NIST_P256));
      }
      report("keylime_tpm SignData path (connect, SRK from template, load, sign, flush)", n, () -> {
        try (Tpm tpm = new Tpm(new SwtpmTransport("127.0.0.1", swtpm.port))) {
          new KeylimeTpm(tpm).sign(key, digest, ecdsa);
        }
      });
      try (Tpm tpm = swtpm.tpm()) {
        int srk = tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256())).handle();
        tpm.execute(new EvictControl(Handles.RH_OWNER, Auth.empty(), srk, Handles.PERSISTENT_SRK));
        tpm.execute(new FlushContext(srk));
      }
      report("same, persistent SRK 0x81000001", n, () -> {
        try (Tpm tpm = new Tpm(new SwtpmTransport("127.0.0.1", swtpm.port))) {
          new KeylimeTpm(tpm).sign(key, digest, ecdsa);
        }
      });
      try (Tpm tpm = swtpm.tpm()) {
        int h = tpm.execute(new Load(Handles.PERSISTENT_SRK, Auth.empty(), key)).handle();
        report("TPM2_Sign alone (key loaded, connection open)", n, () -> tpm.execute(new Sign(h, Auth.empty(), digest, ecdsa)));
        tpm.execute(new FlushContext(h));
      }
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(256);
      KeyPair kp = g.generateKeyPair();
      report("JDK ECDSA P-256 in memory (as a software KeyManager)", n, () -> {
        Signature s = Signature.getInstance("NONEwithECDSA");
        s.initSign(kp.getPrivate());
        s.update(digest);
        s.sign();
      });
    }
  }

  static void report(String what, int n, Op op) throws Exception {
    for (int i = 0; i < Math.min(20, n); i++) {
      op.run();
    }
    List<Double> ms = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long t = System.nanoTime();
      op.run();
      ms.add((System.nanoTime() - t) / 1e6);
    }
    Collections.sort(ms);
    System.out.printf("%-80s n=%d median %.2f ms, p90 %.2f ms%n", what, n, ms.get(n / 2), ms.get((int) (n * 0.9)));
  }
}
