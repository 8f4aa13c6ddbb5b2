package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.SlotWatchTransport;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Transient-slot discipline of the load-AK / quote / certify sequence on swtpm. */
class CycleTest {
  static Swtpm swtpm;
  static KeyBlob ak;
  static KeyBlob app;
  static TpmVerifier akKey;
  static final PcrSelection SEL = PcrSelection.of(Alg.SHA256, 16);

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    KeylimeTpm k = new KeylimeTpm(swtpm.tpm());
    ak = k.createAk(Templates.akRsa(Alg.SHA256));
    app = k.createAppKey(Templates.appKeyEccP256());
    akKey = TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT);
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  private static void cycle(KeylimeTpm k, int i) throws Exception {
    byte[] nonce = String.format("n%019d", i).getBytes(StandardCharsets.US_ASCII);
    KeylimeTpm.Evidence e = k.quoteAndCertify(ak, nonce, SEL, app, nonce);
    akKey.verifyQuote(e.quote(), nonce);
    akKey.verifyCertify(e.certify().attest(), e.certify().signature(), app.publicArea(), nonce);
  }

  @Test
  void atMostTwoTransientObjectsWithPersistentEk() throws Exception {
    SlotWatchTransport watch = new SlotWatchTransport(new SwtpmTransport("127.0.0.1", swtpm.port), true);
    KeylimeTpm k = new KeylimeTpm(new Tpm(watch));
    cycle(k, 0);
    assertThat(watch.maxTransient()).isEqualTo(2);
    assertThat(watch.transientNow()).isZero();
  }

  @Test
  void atMostTwoTransientObjectsWithTransientEk() throws Exception {
    SlotWatchTransport watch = new SlotWatchTransport(new SwtpmTransport("127.0.0.1", swtpm.port), true);
    KeylimeTpm.Primary transientEk = new KeylimeTpm.Primary(0, Handles.RH_ENDORSEMENT, Templates.ekRsa2048());
    KeylimeTpm k = new KeylimeTpm(new Tpm(watch), transientEk, KeylimeTpm.SRK);
    cycle(k, 0);
    assertThat(watch.maxTransient()).isEqualTo(2);
    assertThat(watch.transientNow()).isZero();
    // and it works while a third client (the Keylime agent) holds one slot with its own AK
    int held = swtpm.tpm().execute(new io.github.keylimeattestor.tpm.command.CreatePrimary(
        Handles.RH_OWNER, io.github.keylimeattestor.tpm.command.Auth.empty(), new byte[0],
        Templates.srkEccP256())).handle();
    try {
      cycle(k, 1);
      assertThat(new KeylimeTpm(swtpm.tpm()).transientHandles()).containsExactly(held);
    } finally {
      swtpm.tpm().execute(new io.github.keylimeattestor.tpm.command.FlushContext(held));
    }
  }

  @Test
  void everythingIsFlushedWhenAnyCommandFails() throws Exception {
    KeylimeTpm.Primary transientEk = new KeylimeTpm.Primary(0, Handles.RH_ENDORSEMENT, Templates.ekRsa2048());
    for (KeylimeTpm.Primary ek : new KeylimeTpm.Primary[] {KeylimeTpm.EK_RSA, transientEk}) {
      SlotWatchTransport t = new SlotWatchTransport(new SwtpmTransport("127.0.0.1", swtpm.port), false);
      KeylimeTpm probe = new KeylimeTpm(new Tpm(t), ek, KeylimeTpm.SRK);
      cycle(probe, 0);
      int perCycle = t.commands();
      assertThat(perCycle).isGreaterThan(8);
      // TPM_RC_OBJECT_MEMORY as an injected TPM answer, then a broken connection
      byte[] objectMemory = HexFormat.of().parseHex("80010000000a00000902");
      for (byte[] failure : new byte[][] {objectMemory, null}) {
        for (int n = 1; n <= perCycle; n++) {
          t.failAt(n, failure);
          Exception thrown = null;
          try {
            cycle(probe, n);
          } catch (TpmResponseException | IOException e) {
            thrown = e;
          }
          if (t.failedCommandCode() != CommandCode.FLUSH_CONTEXT) {
            // a failed flush is retried and may go unnoticed; any other failure must surface
            assertThat(thrown).as("failure at command %d", n).isNotNull();
          }
          assertThat(t.transientNow()).as("transient objects after failure at command %d", n).isZero();
        }
      }
    }
  }

  @Test
  void thousandQuoteCertifyCyclesLeaveNoTransientHandle() throws Exception {
    KeylimeTpm k = new KeylimeTpm(swtpm.tpm());
    for (int i = 0; i < 1000; i++) {
      cycle(k, i);
    }
    assertThat(k.transientHandles()).isEmpty();
    assertThat(k.tpm().execute(io.github.keylimeattestor.tpm.command.GetCapability.handles(
        Handles.HR_POLICY_SESSION)).handles()).isEmpty();
    assertThat(k.tpm().execute(io.github.keylimeattestor.tpm.command.GetCapability.handles(
        Handles.HR_HMAC_SESSION)).handles()).isEmpty();
  }
}
