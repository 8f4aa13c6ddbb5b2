package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.command.AttestResponse;
import io.github.keylimeattestor.tpm.command.Auth;
import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.command.Load;
import io.github.keylimeattestor.tpm.command.ReadPublic;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.testing.AgentDataWriter;
import io.github.keylimeattestor.tpm.testing.CredentialBlob;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmPublic.SymDef;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Quote, Certify, agent_data.json and ActivateCredential against swtpm, cross-checked with tpm2-tools. */
class QuoteCertifyTest {
  static Swtpm swtpm;
  static Tpm tpm;
  static KeylimeTpm k;
  static KeyBlob ak;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    tpm = swtpm.tpm();
    k = new KeylimeTpm(tpm);
    ak = new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256));
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  @AfterEach
  void nothingLeftLoaded() throws Exception {
    assertThat(k.transientHandles()).isEmpty();
  }

  private static byte[] nonce() {
    return HexFormat.of().formatHex(new SecureRandom().generateSeed(10)).getBytes(StandardCharsets.US_ASCII);
  }

  private Path write(String name, byte[] data) throws Exception {
    return Files.write(swtpm.dir().resolve(name), data);
  }

  private byte[] read(String name) throws Exception {
    return Files.readAllBytes(swtpm.dir().resolve(name));
  }

  @Test
  void ourQuoteVerifiesWithOurCodeAndTpm2Checkquote() throws Exception {
    byte[] nonce = nonce();
    PcrSelection sel = PcrSelection.of(Alg.SHA256, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16);
    KeylimeQuote q = k.quote(ak, nonce, sel);

    TpmVerifier.VerifiedQuote v = TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyQuote(q, nonce);
    assertThat(v.attest().quote().pcrSelect()).isEqualTo(sel);
    assertThat(v.attest().qualifiedSigner().isEmpty()).isFalse();
    assertThat(q.pcrBlob().size()).isEqualTo(132 + 4 + 2 * 532);
    assertThat(KeylimeQuote.parse(q.encode()).encode()).isEqualTo(q.encode());

    write("ak.pub", ak.publicArea().marshalTpm2b());
    write("q.msg", q.attest().toByteArray());
    write("q.sig", q.signature().toByteArray());
    write("q.pcrs", q.pcrBlob().toByteArray());
    swtpm.tpm2("tpm2_checkquote", "-u", "ak.pub", "-m", "q.msg", "-s", "q.sig", "-f", "q.pcrs",
        "-g", "sha256", "-q", HexFormat.of().formatHex(nonce));
    // and tpm2_checkquote does reject a wrong nonce, so the check above means something
    Swtpm.Result wrong = swtpm.tpm2Try("tpm2_checkquote", "-u", "ak.pub", "-m", "q.msg", "-s", "q.sig",
        "-f", "q.pcrs", "-g", "sha256", "-q", "00");
    assertThat(wrong.exitCode()).isNotZero();

    assertThatThrownBy(() -> TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyQuote(q, new byte[] {1}))
        .isInstanceOf(TpmVerificationException.class).hasMessageContaining("extraData");
  }

  @Test
  void tpm2QuoteVerifiesWithOurCodeAndPcrBlobIsByteExact() throws Exception {
    byte[] nonce = nonce();
    swtpm.tpm2("tpm2_createak", "-C", "0x81010001", "-c", "ak2.ctx", "-G", "rsa", "-g", "sha256",
        "-s", "rsassa", "-u", "ak2.pub", "-r", "ak2.priv");
    try {
      swtpm.tpm2("tpm2_quote", "-c", "ak2.ctx", "-l", "sha256:0,1,2,3,4,5,6,7,8,9,16", "-q",
          HexFormat.of().formatHex(nonce), "-m", "t.msg", "-s", "t.sig", "-o", "t.pcrs", "-g", "sha256");
    } finally {
      swtpm.tpm2("tpm2_flushcontext", "-t");
    }
    TpmPublic ak2 = TpmPublic.parseTpm2b(read("ak2.pub"));
    String keylimeStyle = "r" + Base64.getEncoder().encodeToString(read("t.msg")) + ":"
        + Base64.getEncoder().encodeToString(read("t.sig")) + ":"
        + Base64.getEncoder().encodeToString(read("t.pcrs"));
    KeylimeQuote q = KeylimeQuote.parse(keylimeStyle);
    assertThat(q.encode()).isEqualTo(keylimeStyle);
    TpmVerifier.VerifiedQuote v = TpmVerifier.forAk(ak2, AlgorithmPolicy.STRICT).verifyQuote(q, nonce);
    assertThat(v.pcrs().values()).hasSize(11);

    // our PCR blob for the same selection is byte-identical to tpm2_quote's -o file
    PcrSelection sel = PcrSelection.of(Alg.SHA256, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16);
    assertThat(k.readPcrs(sel).encode()).isEqualTo(read("t.pcrs"));
    assertThat(v.pcrs().encode()).isEqualTo(read("t.pcrs"));

    // a signature by another key is rejected
    assertThatThrownBy(() -> TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyQuote(q, nonce))
        .isInstanceOf(TpmVerificationException.class).hasMessageContaining("signature");

    // the tpm2-tools AK blobs, put into agent_data.json, load and quote through our code
    byte[] pub = read("ak2.pub");
    byte[] priv = read("ak2.priv");
    AgentData data = AgentDataWriter.of(new KeyBlob(TpmPublic.parseTpm2b(pub),
        Bytes.copyFrom(priv, 2, priv.length - 2)), k.ekPublic().toPublicKey());
    Path file = swtpm.dir().resolve("agent_data_tools.json");
    AgentDataWriter.write(data, file);
    AgentData back = AgentData.read(file);
    KeylimeQuote ours = k.quote(back.akBlob(), nonce, PcrSelection.of(Alg.SHA256, 16));
    TpmVerifier.forAk(ak2, AlgorithmPolicy.STRICT).verifyQuote(ours, nonce);
  }

  @Test
  void agentDataWrittenByUsLoadsAndQuotes() throws Exception {
    AgentData data = AgentDataWriter.of(ak, k.ekPublic().toPublicKey());
    assertThat(data.akHashAlg()).isEqualTo("Sha256");
    assertThat(data.akSignAlg()).isEqualTo("RsaSsa");
    assertThat(data.ekHashText()).matches("[0-9a-f]{64}");
    Path file = swtpm.dir().resolve("agent_data.json");
    AgentDataWriter.write(data, file);
    AgentData back = AgentData.read(file);
    assertThat(back.akBlob()).usingRecursiveComparison().isEqualTo(ak);
    byte[] nonce = nonce();
    KeylimeQuote q = k.quote(back.akBlob(), nonce, PcrSelection.of(Alg.SHA256, 16));
    TpmVerifier.forAk(back.akBlob().publicArea(), AlgorithmPolicy.STRICT).verifyQuote(q, nonce);
    // tpm2-tools can use the same blobs (proves we wrote TPMT_PUBLIC / TPM2B_PRIVATE contents)
    write("ours.pub", back.akBlob().publicArea().marshalTpm2b());
    byte[] privTpm2b = new io.github.keylimeattestor.tpm.structure.TpmWriter().tpm2b(back.akPrivate().toByteArray()).toByteArray();
    write("ours.priv", privTpm2b);
    swtpm.tpm2("tpm2_startauthsession", "--policy-session", "-S", "s.ctx");
    swtpm.tpm2("tpm2_policysecret", "-S", "s.ctx", "-c", "e");
    try {
      swtpm.tpm2("tpm2_load", "-C", "0x81010001", "-P", "session:s.ctx", "-u", "ours.pub",
          "-r", "ours.priv", "-c", "ours.ctx");
      swtpm.tpm2("tpm2_quote", "-c", "ours.ctx", "-l", "sha256:16", "-q", "abcd", "-m", "o.msg",
          "-s", "o.sig", "-o", "o.pcrs", "-g", "sha256");
    } finally {
      swtpm.tpm2("tpm2_flushcontext", "-t");
      swtpm.tpm2("tpm2_flushcontext", "-l");
    }
    TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyQuote(new KeylimeQuote(Bytes.copyFrom(read("o.msg")), Bytes.copyFrom(read("o.sig")), Bytes.copyFrom(read("o.pcrs"))), new byte[] {(byte) 0xab, (byte) 0xcd});
  }

  @Test
  void certifyNamesTheAppKeyAndRejectsAnotherKey() throws Exception {
    KeyBlob app = k.createAppKey(Templates.appKeyEccP256());
    KeyBlob other = k.createAppKey(Templates.appKeyRsa2048());
    assertThat(app.publicArea().objectAttributes()).isEqualTo(0x00040472);
    byte[] qd = MessageDigest.getInstance("SHA-256").digest("app-key nonce".getBytes(StandardCharsets.US_ASCII));
    AttestResponse cert = k.certify(ak, app, qd);
    Attest a = TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyCertify(cert.attest(), cert.signature(),
        app.publicArea(), qd);
    assertThat(a.certify().name().toByteArray()).isEqualTo(app.publicArea().name());
    assertThatThrownBy(() -> TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyCertify(cert.attest(),
        cert.signature(), other.publicArea(), qd))
        .isInstanceOf(TpmVerificationException.class).hasMessageContaining("Name");
    assertThatThrownBy(() -> TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyCertify(cert.attest(),
        cert.signature(), app.publicArea(), new byte[32]))
        .isInstanceOf(TpmVerificationException.class);
    // certify data for the other key verifies only as the other key
    AttestResponse cert2 = k.certify(ak, other, qd);
    TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyCertify(cert2.attest(), cert2.signature(),
        other.publicArea(), qd);
    assertThatThrownBy(() -> TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyCertify(cert2.attest(),
        cert2.signature(), app.publicArea(), qd)).isInstanceOf(TpmVerificationException.class);
  }

  /** A key whose Name is a SHA-1 digest: the AK vouches only for that digest, so allow_sha1 decides. */
  @Test
  void aCertifiedKeyWithASha1NameIsRefusedUnlessSha1IsAllowed() throws Exception {
    TpmPublic sha1Named = TpmPublic.ecc(Alg.SHA1, Templates.APP_KEY_ATTRIBUTES, new byte[0], SymDef.NULL,
        Scheme.of(Alg.ECDSA, Alg.SHA256), Alg.ECC_NIST_P256, Scheme.NULL, new byte[0], new byte[0]);
    KeyBlob app = k.createAppKey(sha1Named);
    assertThat(app.publicArea().nameAlg()).isEqualTo(Alg.SHA1);
    byte[] qd = MessageDigest.getInstance("SHA-256").digest("app-key nonce".getBytes(StandardCharsets.US_ASCII));
    AttestResponse cert = k.certify(ak, app, qd);
    assertThatThrownBy(() -> TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyCertify(cert.attest(),
        cert.signature(), app.publicArea(), qd))
        .isInstanceOf(TpmVerificationException.class).hasMessageContaining("nameAlg").hasMessageContaining("allow_sha1");
    TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.ALLOW_SHA1).verifyCertify(cert.attest(), cert.signature(),
        app.publicArea(), qd);
  }

  @Test
  void ourNameEqualsReadPublicName() throws Exception {
    CreatePrimary.Response srk = tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256()));
    try {
      KeyBlob app = k.createAppKey(Templates.appKeyRsa2048());
      Load.Response loaded = tpm.execute(new Load(srk.handle(), Auth.empty(), app));
      try {
        ReadPublic.Response rp = tpm.execute(new ReadPublic(loaded.handle()));
        assertThat(Bytes.copyFrom(app.publicArea().name())).isEqualTo(rp.name()).isEqualTo(loaded.name());
        assertThat(rp.outPublic()).isEqualTo(app.publicArea());
      } finally {
        tpm.execute(new FlushContext(loaded.handle()));
      }
      assertThat(Bytes.copyFrom(srk.outPublic().name())).isEqualTo(srk.name());
    } finally {
      tpm.execute(new FlushContext(srk.handle()));
    }
  }

  @Test
  void activateCredentialWithOurAndTpm2ToolsMakeCredential() throws Exception {
    TpmPublic ek = k.ekPublic();
    byte[] secret = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    CredentialBlob ours = CredentialBlob.make(ek, ak.publicArea().name(), secret, new SecureRandom());
    assertThat(CredentialBlob.parse(ours.encode()).encode()).isEqualTo(ours.encode());
    assertThat(new KeylimeAgentTpm(k).activateCredential(ak, ours)).isEqualTo(secret);

    write("ek.pub", ek.marshalTpm2b());
    write("secret.bin", secret);
    swtpm.tpm2("tpm2_makecredential", "-T", "none", "-u", "ek.pub", "-s", "secret.bin", "-n",
        HexFormat.of().formatHex(ak.publicArea().name()), "-o", "cred.blob");
    CredentialBlob tools = CredentialBlob.parse(read("cred.blob"));
    assertThat(new KeylimeAgentTpm(k).activateCredential(ak, tools)).isEqualTo(secret);

    // bound to another Name: the TPM refuses
    CredentialBlob wrongName = CredentialBlob.make(ek, Templates.akRsa(Alg.SHA256).name(), secret,
        new SecureRandom());
    assertThatThrownBy(() -> new KeylimeAgentTpm(k).activateCredential(ak, wrongName)).isInstanceOf(TpmResponseException.class);
  }

  @Test
  void pcr16ResetAndExtend() throws Exception {
    byte[] d = MessageDigest.getInstance("SHA-256").digest("nk".getBytes(StandardCharsets.US_ASCII));
    new KeylimeAgentTpm(k).resetAndExtend(16, Alg.SHA256, d);
    byte[] expected = MessageDigest.getInstance("SHA-256").digest(concat(new byte[32], d));
    assertThat(k.readPcrs(PcrSelection.of(Alg.SHA256, 16)).value(Alg.SHA256, 16).toByteArray()).isEqualTo(expected);
  }

  @Test
  void eccAkQuotesAndCertifies() throws Exception {
    KeyBlob eccAk = new KeylimeAgentTpm(k).createAk(Templates.akEccP256(Alg.SHA256));
    byte[] nonce = nonce();
    KeyBlob app = k.createAppKey(Templates.appKeyEccP256());
    KeylimeTpm.Evidence e = k.quoteAndCertify(eccAk, nonce, PcrSelection.of(Alg.SHA256, 16), app, nonce);
    TpmVerifier.forAk(eccAk.publicArea(), AlgorithmPolicy.STRICT).verifyQuote(e.quote(), nonce);
    TpmVerifier.forAk(eccAk.publicArea(), AlgorithmPolicy.STRICT).verifyCertify(e.certify().attest(),
        e.certify().signature(), app.publicArea(), nonce);
  }

  @Test
  void rsapssAndOtherSchemesFromTheTpmVerify() throws Exception {
    TpmPublic noScheme = TpmPublic.rsa(Alg.SHA256, Templates.APP_KEY_ATTRIBUTES, new byte[0],
        TpmPublic.SymDef.NULL, TpmPublic.Scheme.NULL, 2048, 0, new byte[0]);
    KeyBlob key = k.createAppKey(noScheme);
    CreatePrimary.Response srk = tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256()));
    int handle = 0;
    try {
      handle = tpm.execute(new Load(srk.handle(), Auth.empty(), key)).handle();
      PublicKey pk = key.publicArea().toPublicKey();
      for (TpmPublic.Scheme scheme : new TpmPublic.Scheme[] {TpmPublic.Scheme.of(Alg.RSAPSS, Alg.SHA256),
          TpmPublic.Scheme.of(Alg.RSASSA, Alg.SHA384), TpmPublic.Scheme.of(Alg.RSAPSS, Alg.SHA512)}) {
        AttestResponse q = tpm.execute(new io.github.keylimeattestor.tpm.command.Quote(handle, Auth.empty(),
            nonce(), scheme, PcrSelection.of(Alg.SHA256, 16)));
        TpmSignature sig = TpmSignature.parse(q.signature());
        assertThat(sig.sigAlg()).isEqualTo(scheme.scheme());
        assertThat(sig.hashAlg()).isEqualTo(scheme.hashAlg());
        SigningScheme used = new SigningScheme(scheme.scheme(), scheme.hashAlg());
        sig.verify(pk, used, q.attest().toByteArray());
        byte[] other = q.attest().toByteArray();
        other[10] ^= 1;
        assertThatThrownBy(() -> sig.verify(pk, used, other)).isInstanceOf(TpmVerificationException.class);
      }
    } finally {
      if (handle != 0) {
        tpm.execute(new FlushContext(handle));
      }
      tpm.execute(new FlushContext(srk.handle()));
    }
  }

  @Test
  void eccEkMakeAndActivateCredential() throws Exception {
    KeylimeTpm ecc = new KeylimeTpm(tpm, KeylimeTpm.EK_ECC, KeylimeTpm.SRK);
    TpmPublic ek = ecc.ekPublic();
    assertThat(ek.type()).isEqualTo(Alg.ECC);
    KeyBlob eccEkAk = new KeylimeAgentTpm(ecc).createAk(Templates.akRsa(Alg.SHA256));
    byte[] secret = "ecc-credential-0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    CredentialBlob blob = CredentialBlob.make(ek, eccEkAk.publicArea().name(), secret, new SecureRandom());
    assertThat(new KeylimeAgentTpm(ecc).activateCredential(eccEkAk, blob)).isEqualTo(secret);
    byte[] nonce = nonce();
    TpmVerifier.forAk(eccEkAk.publicArea(), AlgorithmPolicy.STRICT).verifyQuote(ecc.quote(eccEkAk, nonce, PcrSelection.of(Alg.SHA256, 16)), nonce);
  }

  @Test
  void persistentSrkViaEvictControlIsUsed() throws Exception {
    CreatePrimary.Response srk = tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256()));
    try {
      tpm.execute(new io.github.keylimeattestor.tpm.command.EvictControl(Handles.RH_OWNER, Auth.empty(),
          srk.handle(), Handles.PERSISTENT_SRK));
    } finally {
      tpm.execute(new FlushContext(srk.handle()));
    }
    try {
      io.github.keylimeattestor.tpm.testing.SlotWatchTransport watch =
          new io.github.keylimeattestor.tpm.testing.SlotWatchTransport(
              new io.github.keylimeattestor.tpm.transport.SwtpmTransport("127.0.0.1", swtpm.port), true);
      KeylimeTpm p = new KeylimeTpm(new Tpm(watch));
      KeyBlob app = p.createAppKey(Templates.appKeyEccP256());
      byte[] nonce = nonce();
      KeylimeTpm.Evidence e = p.quoteAndCertify(ak, nonce, PcrSelection.of(Alg.SHA256, 16), app, nonce);
      TpmVerifier.forAk(ak.publicArea(), AlgorithmPolicy.STRICT).verifyCertify(e.certify().attest(), e.certify().signature(),
          app.publicArea(), nonce);
      // with persistent EK and SRK only the App Key and the AK are ever loaded
      assertThat(watch.maxTransient()).isEqualTo(2);
      // the key really lives under the persistent SRK: it loads there directly
      int h = tpm.execute(new Load(Handles.PERSISTENT_SRK, Auth.empty(), app)).handle();
      tpm.execute(new FlushContext(h));
    } finally {
      tpm.execute(new io.github.keylimeattestor.tpm.command.EvictControl(Handles.RH_OWNER, Auth.empty(),
          Handles.PERSISTENT_SRK, Handles.PERSISTENT_SRK));
    }
    assertThat(tpm.execute(io.github.keylimeattestor.tpm.command.GetCapability.handles(Handles.HR_PERSISTENT))
        .handles()).doesNotContain(Handles.PERSISTENT_SRK);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
