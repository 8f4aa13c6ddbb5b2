package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.keylimeattestor.tpm.command.Auth;
import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.ReadPublic;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.github.keylimeattestor.tpm.testing.Tabrmd;
import io.github.keylimeattestor.tpm.transport.Tcti;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Our TPM code through a real tpm2-abrmd (private D-Bus bus) in front of swtpm, checked with tpm2-tools. */
class TabrmdTest {
  static Swtpm swtpm;
  static Tabrmd abrmd;
  static final PcrSelection SEL = PcrSelection.of(Alg.SHA256, 0, 1, 7, 16);

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    try {
      abrmd = Tabrmd.start(swtpm.tcti());
    } catch (Exception | Error e) {
      swtpm.close();
      throw e;
    }
  }

  @AfterAll
  static void stop() {
    if (abrmd != null) {
      abrmd.close();
    }
    if (swtpm != null) {
      swtpm.close();
    }
  }

  private static KeylimeTpm.Evidence quoteAndCertify(KeylimeTpm k, KeyBlob ak, KeyBlob app, byte[] nonce)
      throws Exception {
    KeylimeTpm.Evidence e = k.quoteAndCertify(ak, nonce, SEL, app, nonce);
    TpmVerifier verifier = TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT);
    verifier.verifyQuote(e.quote(), nonce);
    verifier.verifyCertify(e.certify().attest(), e.certify().signature(), app.publicArea(), nonce);
    return e;
  }

  @Test
  void quoteAndCertifyThroughTabrmdTctiVerifyWithTpm2Tools() throws Exception {
    byte[] nonce = "abrmd-nonce-0123456789".getBytes(StandardCharsets.US_ASCII);
    KeylimeTpm.Evidence e;
    KeyBlob ak;
    try (Tpm tpm = new Tpm(Tcti.open(abrmd.tcti(), 30_000))) {
      KeylimeTpm k = new KeylimeTpm(tpm);
      ak = new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256));
      KeyBlob app = k.createAppKey(Templates.appKeyEccP256());
      // a non-zero PCR 16, so that the comparison with tpm2_pcrread below means something
      new KeylimeAgentTpm(k).resetAndExtend(16, Alg.SHA256, java.security.MessageDigest.getInstance("SHA-256").digest(nonce));
      e = quoteAndCertify(k, ak, app, nonce);
      // abrmd shows each connection only its own objects: ours are all flushed
      assertThat(k.transientHandles()).isEmpty();
    }
    Files.write(abrmd.dir().resolve("ak.pub"), ak.publicArea().marshalTpm2b());
    Files.write(abrmd.dir().resolve("q.msg"), e.quote().attest().toByteArray());
    Files.write(abrmd.dir().resolve("q.sig"), e.quote().signature().toByteArray());
    Files.write(abrmd.dir().resolve("q.pcrs"), e.quote().pcrBlob().toByteArray());
    abrmd.tpm2("tpm2_checkquote", "-u", "ak.pub", "-m", "q.msg", "-s", "q.sig", "-f", "q.pcrs", "-g", "sha256",
        "-q", HexFormat.of().formatHex(nonce));
    // tpm2-tools reach the same TPM through the same daemon: the PCRs we quoted, the persistent EK we used
    abrmd.tpm2("tpm2_pcrread", "sha256:0,1,7,16", "-o", "pcrs.bin");
    byte[] theirs = Files.readAllBytes(abrmd.dir().resolve("pcrs.bin"));
    PcrBlob ours = PcrBlob.parse(e.quote().pcrBlob().toByteArray());
    int[] pcrs = {0, 1, 7, 16};
    for (int i = 0; i < pcrs.length; i++) {
      assertThat(java.util.Arrays.copyOfRange(theirs, 32 * i, 32 * i + 32)).as("PCR %d", pcrs[i])
          .isEqualTo(ours.value(Alg.SHA256, pcrs[i]).toByteArray());
    }
    assertThat(abrmd.tpm2("tpm2_getcap", "handles-persistent")).contains("0x81010001");
    assertThat(abrmd.tpm2("tpm2_getcap", "handles-transient").strip()).isEmpty();
    // and nothing of ours is left in the TPM itself
    assertThat(new KeylimeTpm(swtpm.tpm()).transientHandles()).isEmpty();
  }

  private static long openFds() throws Exception {
    try (var s = Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }

  @Test
  void closingTheTransportEndsItsAbrmdConnection() throws Exception {
    long before = openFds();
    int threadsBefore = Thread.activeCount();
    // more connections than abrmd allows at once (27): each must really end when closed
    for (int i = 0; i < 40; i++) {
      try (Tpm tpm = new Tpm(Tcti.open(abrmd.tcti(), 30_000))) {
        // left loaded on purpose: abrmd flushes a connection's objects when its socket closes
        tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256()));
      }
    }
    assertThat(openFds()).isLessThan(before + 5);
    // in this thread: a polling thread of Awaitility's own would count too
    await("the D-Bus connections' threads ending").atMost(Duration.ofSeconds(5)).pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(20)).pollInSameThread().untilAsserted(() -> assertThat(Thread.activeCount())
            .as("threads left by D-Bus connections").isLessThanOrEqualTo(threadsBefore + 4));
    KeylimeTpm direct = new KeylimeTpm(swtpm.tpm());
    await("abrmd flushing the closed connections' objects").atMost(Duration.ofSeconds(5)).pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(20)).pollInSameThread()
        .untilAsserted(() -> assertThat(direct.transientHandles()).isEmpty());
  }

  @Test
  void aStoppedDaemonIsAClearIoErrorAndARestartedOneServesNewConnections() throws Exception {
    Tpm before = new Tpm(Tcti.open(abrmd.tcti(), 5_000));
    try {
      before.execute(io.github.keylimeattestor.tpm.command.GetCapability.handles(Handles.HR_TRANSIENT));
      abrmd.stopDaemon();
      assertThatThrownBy(() -> Tcti.open(abrmd.tcti(), 5_000)).isInstanceOf(IOException.class)
          .hasMessageContaining("tpm2-abrmd com.intel.tss2.Tabrmd").hasMessageContaining("is not running");
      // a connection from before the stop fails, it does not hang
      assertThatThrownBy(() -> before.execute(
          io.github.keylimeattestor.tpm.command.GetCapability.handles(Handles.HR_TRANSIENT)))
          .isInstanceOf(IOException.class);
    } finally {
      before.close();
      abrmd.startDaemonAgain();
    }
    try (Tpm after = new Tpm(Tcti.open(abrmd.tcti(), 5_000))) {
      assertThat(new KeylimeTpm(after).transientHandles()).isEmpty();
    }
  }

  @Test
  void abrmdSwapsOtherClientsObjectsOutSoOurSequenceFitsBesideThem() throws Exception {
    byte[] nonce = "beside-held-objects".getBytes(StandardCharsets.US_ASCII);
    KeylimeTpm setup = new KeylimeTpm(abrmd.tpm());
    KeyBlob ak = new KeylimeAgentTpm(setup).createAk(Templates.akRsa(Alg.SHA256));
    KeyBlob app = setup.createAppKey(Templates.appKeyEccP256());
    setup.tpm().close();
    // a foreign client keeps 3 objects loaded, as many as swtpm has slots, on its own abrmd connection
    try (Tpm foreign = abrmd.tpm()) {
      List<Integer> held = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        held.add(foreign.execute(new CreatePrimary(Handles.RH_OWNER, Auth.empty(),
            new byte[0], Templates.srkEccP256())).handle());
      }
      for (int i = 0; i < 5; i++) {
        try (Tpm tpm = abrmd.tpm()) {
          quoteAndCertify(new KeylimeTpm(tpm), ak, app, nonce);
        }
      }
      // the foreign objects are still there for their owner
      for (int h : held) {
        assertThat(foreign.execute(new ReadPublic(h)).outPublic().curveId()).isEqualTo(Alg.ECC_NIST_P256);
      }
      assertThat(new KeylimeTpm(foreign).transientHandles()).containsExactlyInAnyOrderElementsOf(held);
    }
  }
}
