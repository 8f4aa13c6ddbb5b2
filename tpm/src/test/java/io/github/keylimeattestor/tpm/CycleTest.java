package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.command.GetCapability;
import io.github.keylimeattestor.tpm.testing.CredentialBlob;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.SlotWatchTransport;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Transient-slot discipline of every KeylimeTpm sequence on swtpm (3 object slots): at most 2
 * objects of ours in the TPM, counting a persistent EK / SRK while a command uses it, so that each
 * sequence works while another client (the Keylime agent, which keeps its AK loaded) holds one slot;
 * and nothing of ours left behind, on success and after a failure at any command.
 */
class CycleTest {
  static Swtpm swtpm;
  static KeyBlob ak;
  static KeyBlob app;
  static TpmVerifier akKey;
  static final PcrSelection SEL = PcrSelection.of(Alg.SHA256, 16);
  static final KeylimeTpm.Primary TEMPLATE_EK =
      new KeylimeTpm.Primary(0, Handles.RH_ENDORSEMENT, Templates.ekRsa2048());
  static final Map<String, KeylimeTpm.Primary> EKS = new LinkedHashMap<>();

  static {
    EKS.put("persistent EK", KeylimeTpm.EK_RSA);
    EKS.put("template EK", TEMPLATE_EK);
  }

  interface Sequence {
    void run(KeylimeTpm k, int i) throws Exception;
  }

  /** Every public KeylimeTpm method that loads something. */
  static final Map<String, Sequence> SEQUENCES = new LinkedHashMap<>();

  static {
    SEQUENCES.put("quoteAndCertify", CycleTest::cycle);
    SEQUENCES.put("quote", (k, i) -> akKey.verifyQuote(k.quote(ak, nonce(i), SEL), nonce(i)));
    SEQUENCES.put("certify", (k, i) -> {
      var c = k.certify(ak, app, nonce(i));
      akKey.verifyCertify(c.attest(), c.signature(), app.publicArea(), nonce(i));
    });
    SEQUENCES.put("activateCredential", (k, i) -> {
      byte[] secret = nonce(i);
      CredentialBlob blob = CredentialBlob.make(k.ekPublic(), ak.publicArea().name(), secret, new SecureRandom());
      assertThat(new KeylimeAgentTpm(k).activateCredential(ak, blob)).isEqualTo(secret);
    });
    SEQUENCES.put("createAk", (k, i) -> new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256)));
    SEQUENCES.put("createAppKey", (k, i) -> k.createAppKey(Templates.appKeyEccP256()));
    SEQUENCES.put("checkLoadable", (k, i) -> k.checkLoadable(app));
    SEQUENCES.put("ekPublic", (k, i) -> k.ekPublic());
  }

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    KeylimeTpm k = new KeylimeTpm(swtpm.tpm());
    ak = new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256));
    app = k.createAppKey(Templates.appKeyEccP256());
    akKey = TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT);
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  static byte[] nonce(int i) {
    return String.format("n%019d", i).getBytes(StandardCharsets.US_ASCII);
  }

  private static void cycle(KeylimeTpm k, int i) throws Exception {
    byte[] nonce = nonce(i);
    KeylimeTpm.Evidence e = k.quoteAndCertify(ak, nonce, SEL, app, nonce);
    akKey.verifyQuote(e.quote(), nonce);
    akKey.verifyCertify(e.certify().attest(), e.certify().signature(), app.publicArea(), nonce);
  }

  /** Loads one object as another client would and keeps it loaded (as rust-keylime keeps its AK). */
  private static int foreignObject() throws Exception {
    return swtpm.tpm().execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256())).handle();
  }

  private static void flush(int handle) throws Exception {
    swtpm.tpm().execute(new FlushContext(handle));
  }

  @Test
  void everySequenceHasAtMostTwoObjectsInTheTpmCountingPersistentParents() throws Exception {
    for (var ek : EKS.entrySet()) {
      for (var seq : SEQUENCES.entrySet()) {
        SlotWatchTransport watch = new SlotWatchTransport(new SwtpmTransport("127.0.0.1", swtpm.port), true);
        seq.getValue().run(new KeylimeTpm(new Tpm(watch), ek.getValue(), KeylimeTpm.SRK), 0);
        assertThat(watch.maxInUse()).as("%s with the %s", seq.getKey(), ek.getKey()).isLessThanOrEqualTo(2);
        assertThat(watch.transientNow()).as("%s with the %s", seq.getKey(), ek.getKey()).isZero();
      }
    }
  }

  @Test
  void everySequenceWorksBesideAResidentForeignObject() throws Exception {
    int held = foreignObject();
    try {
      for (var ek : EKS.entrySet()) {
        KeylimeTpm k = new KeylimeTpm(swtpm.tpm(), ek.getValue(), KeylimeTpm.SRK);
        for (var seq : SEQUENCES.entrySet()) {
          for (int i = 0; i < 3; i++) {
            try {
              seq.getValue().run(k, i);
            } catch (TpmException e) {
              throw new AssertionError(seq.getKey() + " with the " + ek.getKey() + " beside a foreign object", e);
            }
          }
          assertThat(k.transientHandles()).as("%s with the %s", seq.getKey(), ek.getKey()).containsExactly(held);
        }
      }
    } finally {
      flush(held);
    }
  }

  @Test
  void nothingOfOursIsLeftWhenAnyCommandFails() throws Exception {
    // TPM_RC_OBJECT_MEMORY as an injected TPM answer, then a broken connection
    byte[] objectMemory = HexFormat.of().parseHex("80010000000a00000902");
    int held = foreignObject();
    try {
      for (var ek : EKS.entrySet()) {
        for (var seq : SEQUENCES.entrySet()) {
          SlotWatchTransport t = new SlotWatchTransport(new SwtpmTransport("127.0.0.1", swtpm.port), false);
          KeylimeTpm probe = new KeylimeTpm(new Tpm(t), ek.getValue(), KeylimeTpm.SRK);
          seq.getValue().run(probe, 0); // warm-up: the persistent-handle check is done once per instance
          int before = t.commands();
          seq.getValue().run(probe, 0);
          int perRun = t.commands() - before;
          for (byte[] failure : new byte[][] {objectMemory, null}) {
            for (int n = 1; n <= perRun; n++) {
              t.failAt(n, failure);
              Exception thrown = null;
              try {
                seq.getValue().run(probe, n);
              } catch (TpmResponseException | IOException e) {
                thrown = e;
              }
              String what = String.format("%s with the %s, failure at command %d (%s)", seq.getKey(), ek.getKey(),
                  n, CommandCode.name(t.failedCommandCode()));
              if (t.failedCommandCode() != CommandCode.FLUSH_CONTEXT) {
                // a failed flush is retried and may go unnoticed; any other failure must surface
                assertThat(thrown).as(what).isNotNull();
              }
              assertThat(new KeylimeTpm(swtpm.tpm()).transientHandles()).as(what).containsExactly(held);
            }
          }
        }
      }
    } finally {
      flush(held);
    }
  }

  @Test
  void thousandQuoteCertifyCyclesLeaveNoTransientHandle() throws Exception {
    KeylimeTpm k = new KeylimeTpm(swtpm.tpm());
    for (int i = 0; i < 1000; i++) {
      cycle(k, i);
    }
    assertThat(k.transientHandles()).isEmpty();
    for (int type : List.of(Handles.HR_POLICY_SESSION, Handles.HR_HMAC_SESSION)) {
      assertThat(k.tpm().execute(GetCapability.handles(type)).handles()).isEmpty();
    }
  }
}
