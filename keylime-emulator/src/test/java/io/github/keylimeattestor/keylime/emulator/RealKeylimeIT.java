package io.github.keylimeattestor.keylime.emulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.keylime.AgentInfo;
import io.github.keylimeattestor.keylime.AgentQuoteResponse;
import io.github.keylimeattestor.keylime.ApiVersion;
import io.github.keylimeattestor.keylime.AttestationStatus;
import io.github.keylimeattestor.keylime.ClientSettings;
import io.github.keylimeattestor.keylime.IdentityVerification;
import io.github.keylimeattestor.keylime.KeylimeAgentClient;
import io.github.keylimeattestor.keylime.KeylimeApiException;
import io.github.keylimeattestor.keylime.KeylimeTlsException;
import io.github.keylimeattestor.keylime.KeylimeUnavailableException;
import io.github.keylimeattestor.keylime.OperationalState;
import io.github.keylimeattestor.keylime.Pem;
import io.github.keylimeattestor.keylime.RegistrarAgent;
import io.github.keylimeattestor.keylime.RegistrarClient;
import io.github.keylimeattestor.keylime.TlsSettings;
import io.github.keylimeattestor.keylime.TransportCounts;
import io.github.keylimeattestor.keylime.VerifierAgentStatus;
import io.github.keylimeattestor.keylime.VerifierClient;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.transport.SwtpmTransport;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.Callable;
import org.awaitility.Awaitility;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Against a real Keylime 7.14.3 verifier, registrar and tenant with swtpm, all on 127.0.0.1: the
 * emulated agent registers, the tenant enrols it, the verifier attests it, and this project's
 * clients read and judge the results; then the agent is killed and the verifier fails it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RealKeylimeIT {
  static final String UUID = "d432fbb3-d2f1-4a97-9ef7-75bd81c0" + String.format("%04x", new Random().nextInt(0x10000));

  KeylimeStack stack;
  Process agent;
  int agentPort;
  Path agentDir;
  TlsSettings spireTls;
  RegistrarClient registrar;
  VerifierClient verifier;

  @BeforeAll
  void startStackAndAgent() throws Exception {
    stack = KeylimeStack.start();
    spireTls = TlsSettings.builder()
        .caBundle(stack.path("KEYLIME_CA_CERT"))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null)
        .build();
    registrar = new RegistrarClient(ClientSettings.of(URI.create(stack.get("REGISTRAR_URL")), spireTls)
        .withTimeout(Duration.ofSeconds(5)));
    verifier = new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), spireTls)
        .withTimeout(Duration.ofSeconds(5)));
    agentPort = freePort();
    agentDir = stack.dir.resolve("agent");
    agent = stack.startAgent(UUID, agentPort, agentDir);
    // registered and activated = the registrar shows the record
    RegistrarAgent rec = await(Duration.ofSeconds(90), "the agent to register", () -> {
      try {
        return registrar.getAgent(UUID);
      } catch (KeylimeApiException e) {
        if (e.isNotFound() && agent.isAlive()) {
          return null;
        }
        throw new AssertionError("agent did not register: " + e.getMessage() + "\n" + stack.agentLog(UUID), e);
      }
    });
    assertThat(rec).isNotNull();
    String out = stack.run(Duration.ofMinutes(2), "enroll.sh", stack.dir.toString(), UUID, "127.0.0.1",
        Integer.toString(agentPort));
    assertThat(out).contains("added to Verifier");
  }

  @AfterAll
  void stopEverything() throws Exception {
    if (stack != null) {
      stack.close();
    }
  }

  @Test
  @Order(1)
  void verifierAttestsTheEmulatedAgent() throws Exception {
    VerifierAgentStatus st = await(Duration.ofSeconds(60), "operational_state 3 / PASS", () -> {
      VerifierAgentStatus s = verifier.getAgent(UUID);
      return s.operationalState().orElse(null) == OperationalState.GET_QUOTE
          && s.attestationStatus().orElse(null) == AttestationStatus.PASS
          && s.attestationCount() >= 2 ? s : null;
    });
    assertThat(st.operationalState()).contains(OperationalState.GET_QUOTE);
    assertThat(st.operationalState().get().code()).isEqualTo(3);
    assertThat(st.attestationStatus()).contains(AttestationStatus.PASS);
    assertThat(st.isPushMode()).isFalse();
    assertThat(st.attestationCount()).isGreaterThanOrEqualTo(2);
    assertThat(st.lastSuccessfulAttestation()).hasValueSatisfying(t ->
        assertThat(t).isBetween(Instant.now().minusSeconds(60), Instant.now().plusSeconds(5)));
    assertThat(st.lastReceivedQuote()).isPresent();
    assertThat(st.hashAlg()).contains("sha256");
    assertThat(st.signAlg()).contains("rsassa");
    assertThat(st.severityLevel()).isEmpty();
    assertThat(verifier.apiVersion()).isEqualTo(new ApiVersion(2, 6));
  }

  @Test
  @Order(2)
  void registrarRecordMatchesTheTpmAndAgentData() throws Exception {
    RegistrarAgent rec = registrar.getAgent(UUID);
    assertThat(rec.agentId()).isEqualTo(UUID);
    // EK: the swtpm's persistent EK, read independently through the tpm module
    TpmPublic ek;
    try (Tpm tpm = new Tpm(new SwtpmTransport("127.0.0.1", Integer.parseInt(stack.get("SWTPM_PORT"))))) {
      ek = new KeylimeTpm(tpm).ekPublic();
    }
    assertThat(rec.ek().parsed()).isEqualTo(ek);
    assertThat(rec.ek().parsed().objectAttributes()).isEqualTo(0x000300b2);
    // AK: the one persisted in agent_data.json (rust-keylime's format)
    AgentData data = AgentData.read(agentDir.resolve("agent_data.json"));
    assertThat(rec.ak().tpmtPublic()).isEqualTo(data.akPublic().toByteArray());
    assertThat(data.akHashAlg()).isEqualTo("Sha256");
    assertThat(data.akSignAlg()).isEqualTo("RsaSsa");
    assertThat(data.ekHashText())
        .isEqualTo(AgentData.ekHash(rec.ek().publicKey()));
    assertThat(rec.ak().parsed().objectAttributes()).isEqualTo(0x00050072);
    // EK certificate: issued by this run's swtpm-localca, for the EK's key
    X509Certificate ekCert = rec.ekCertificate().orElseThrow();
    X509Certificate issuer = Pem.readCertificates(stack.path("SWTPM_LOCALCA_ISSUER")).get(0);
    ekCert.verify(issuer.getPublicKey());
    assertThat(ekCert.getIssuerX500Principal()).isEqualTo(issuer.getSubjectX500Principal());
    assertThat(ekCert.getPublicKey()).isEqualTo(rec.ek().publicKey());
    // mTLS certificate: self-signed, CN = UUID
    X509Certificate mtls = rec.mtlsCertificate().orElseThrow();
    assertThat(mtls.getSubjectX500Principal().getName()).isEqualTo("CN=" + UUID);
    assertThat(rec.mtlsDisabled()).isFalse();
    assertThat(rec.ip()).contains("127.0.0.1");
    assertThat(rec.port()).contains(agentPort);
    assertThat(rec.regcount()).isGreaterThanOrEqualTo(1);
  }

  @Test
  @Order(3)
  void verifyIdentitySaysValidForAFreshQuoteAndInvalidForAWrongNonce() throws Exception {
    RegistrarAgent rec = registrar.getAgent(UUID);
    // the agent trusts the SPIRE plugin CA too; its server certificate is pinned from the registrar
    TlsSettings agentTls = TlsSettings.builder()
        .trust(java.util.List.of(rec.mtlsCertificate().orElseThrow()))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null)
        .build();
    KeylimeAgentClient agentClient = new KeylimeAgentClient(
        ClientSettings.of(URI.create("https://127.0.0.1:" + agentPort), agentTls));
    // rust-keylime 0.2.9 speaks 2.1 to 2.5 and answers 400 to /v2.6/...
    assertThat(agentClient.apiVersion()).isEqualTo(new ApiVersion(2, 5));
    KeylimeAgentClient pinned26 = new KeylimeAgentClient(new ClientSettings(
        java.util.List.of(URI.create("https://127.0.0.1:" + agentPort)), agentTls, Duration.ofSeconds(10),
        java.util.Optional.of(new ApiVersion(2, 6))));
    assertThatThrownBy(pinned26::getInfo).isInstanceOfSatisfying(KeylimeApiException.class, e -> {
      assertThat(e.httpStatus()).isEqualTo(400);
      assertThat(e.keylimeMessage()).isEqualTo("API version not supported: v2.6");
    });
    AgentInfo info = agentClient.getInfo();
    assertThat(info.agentUuid()).isEqualTo(UUID);
    assertThat(info.tpmHashAlg()).isEqualTo("sha256");
    assertThat(info.tpmSignAlg()).isEqualTo("rsassa");

    byte[] r = new byte[32];
    new java.security.SecureRandom().nextBytes(r);
    String nonce = HexFormat.of().formatHex(r);
    AgentQuoteResponse q = agentClient.getIdentityQuote(nonce);
    assertThat(q.quote()).startsWith("r");
    assertThat(q.pubkey()).isPresent();

    // a public call: server authentication only
    VerifierClient publicVerifier = new VerifierClient(ClientSettings.of(
        URI.create(stack.get("VERIFIER_URL")), TlsSettings.builder().caBundle(stack.path("KEYLIME_CA_CERT")).build()));
    IdentityVerification ok = publicVerifier.verifyIdentity(UUID, q.quote(), nonce, q.hashAlg());
    assertThat(ok.valid()).isTrue();

    String wrong = HexFormat.of().formatHex(new byte[32]);
    IdentityVerification bad = verifier.verifyIdentity(UUID, q.quote(), wrong, q.hashAlg());
    assertThat(bad.valid()).isFalse();
    assertThat(bad.reason()).hasValueSatisfying(x -> assertThat(x).containsIgnoringCase("nonce"));
  }

  @Test
  @Order(4)
  void wrongCaBundleIsRefusedByUs() throws Exception {
    TlsSettings wrongCa = TlsSettings.builder()
        .caBundle(stack.path("SPIRE_CLIENT_CA_CERT"))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null)
        .build();
    for (Callable<?> call : new Callable<?>[] {
        () -> new RegistrarClient(ClientSettings.of(URI.create(stack.get("REGISTRAR_URL")), wrongCa)).getAgent(UUID),
        () -> new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), wrongCa)).getAgent(UUID)}) {
      assertThatThrownBy(call::call)
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> {
            assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.CLIENT);
            assertThat(e.getMessage())
                .contains("refused by this client")
                .contains("CN=Keylime Certificate Authority")
                .contains("tls.ca_bundle holds: ['CN=SPIRE Keylime plugin client CA']");
          });
    }
  }

  @Test
  @Order(5)
  void untrustedClientCertificateIsRefusedByKeylime() throws Exception {
    Path dir = stack.dir.resolve("rogue");
    Files.createDirectories(dir);
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair caKeys = g.generateKeyPair();
    KeyPair leafKeys = g.generateKeyPair();
    X500Name caName = new X500Name("CN=Rogue CA");
    Instant now = Instant.now();
    X509Certificate leaf = new JcaX509CertificateConverter().getCertificate(
        new JcaX509v3CertificateBuilder(caName, BigInteger.TEN, Date.from(now.minusSeconds(60)),
            Date.from(now.plusSeconds(3600)), new X500Name("CN=rogue-client"), leafKeys.getPublic())
            .build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));
    Path cert = dir.resolve("rogue.crt");
    Path key = dir.resolve("rogue.key");
    Files.writeString(cert, pem(leaf));
    Files.writeString(key, pem(new JcaPKCS8Generator(leafKeys.getPrivate(), null).generate()));
    TlsSettings rogue = TlsSettings.builder()
        .caBundle(stack.path("KEYLIME_CA_CERT"))
        .clientCertificate(cert, key, null)
        .build();
    for (Callable<?> call : new Callable<?>[] {
        () -> new RegistrarClient(ClientSettings.of(URI.create(stack.get("REGISTRAR_URL")), rogue)).getAgent(UUID),
        () -> new VerifierClient(ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), rogue)).getAgent(UUID)}) {
      assertThatThrownBy(call::call)
          .isInstanceOfSatisfying(KeylimeTlsException.class, e -> {
            assertThat(e.refusedBy()).isEqualTo(KeylimeTlsException.RefusedBy.SERVER);
            assertThat(e.getMessage())
                .contains("subject 'CN=rogue-client'")
                .contains("issuer 'CN=Rogue CA'")
                .contains("trusted_client_ca");
          });
    }
    // and without any client certificate Keylime answers 403 with its own message
    TlsSettings none = TlsSettings.builder().caBundle(stack.path("KEYLIME_CA_CERT")).build();
    assertThatThrownBy(() -> new RegistrarClient(ClientSettings.of(URI.create(stack.get("REGISTRAR_URL")), none)).getAgent(UUID))
        .isInstanceOfSatisfying(KeylimeApiException.class, e -> {
          assertThat(e.isForbidden()).isTrue();
          assertThat(e.keylimeMessage()).contains("admin authentication");
        });
  }

  @Test
  @Order(6)
  void unknownAgentIsNotFound() {
    assertThatThrownBy(() -> registrar.getAgent("d432fbb3-d2f1-4a97-9ef7-75bd81c0ffff"))
        .isInstanceOfSatisfying(KeylimeApiException.class, e -> assertThat(e.isNotFound()).isTrue());
    assertThatThrownBy(() -> verifier.getAgent("d432fbb3-d2f1-4a97-9ef7-75bd81c0ffff"))
        .isInstanceOfSatisfying(KeylimeApiException.class, e -> {
          assertThat(e.isNotFound()).isTrue();
          assertThat(e.keylimeMessage()).isNotEmpty();
        });
  }

  /**
   * Keylime load per attestation, as the server plugin reads Keylime (registrar record, verifier
   * status; verify/identity only with verifier_identity_check) and as the agent plugin reads the
   * Keylime agent (agent/info, quotes/identity), five attestations of one node each, counted by the
   * clients' transports against the real registrar, verifier and agent.
   */
  @Test
  @Order(7)
  void keylimeRequestsAndTlsHandshakesPerAttestation() throws Exception {
    int n = 5;
    ClientSettings reg = ClientSettings.of(URI.create(stack.get("REGISTRAR_URL")), spireTls);
    ClientSettings ver = ClientSettings.of(URI.create(stack.get("VERIFIER_URL")), spireTls);
    RegistrarClient uncached = new RegistrarClient(reg);
    RegistrarClient cached = new RegistrarClient(reg, RegistrarClient.DEFAULT_RECORD_TTL);
    VerifierClient status = new VerifierClient(ver);
    for (int i = 0; i < n; i++) {
      uncached.getAgent(UUID);
      cached.getAgent(UUID);
      status.getAgent(UUID);
    }
    System.out.println("keylime load, " + n + " attestations: registrar uncached " + uncached.transportCounts()
        + ", registrar cached " + cached.transportCounts() + ", verifier " + status.transportCounts());
    // the registrar and verifier keep the connection alive: /version and one handshake, then requests only
    assertThat(uncached.transportCounts()).isEqualTo(new TransportCounts(1 + n, 1, 1));
    assertThat(status.transportCounts()).isEqualTo(new TransportCounts(1 + n, 1, 1));
    // within the record TTL the registrar is read once
    assertThat(cached.transportCounts()).isEqualTo(new TransportCounts(2, 1, 1));

    RegistrarAgent rec = registrar.getAgent(UUID);
    TlsSettings agentTls = TlsSettings.builder()
        .trust(java.util.List.of(rec.mtlsCertificate().orElseThrow()))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null)
        .build();
    ClientSettings agentSettings = ClientSettings.of(URI.create("https://127.0.0.1:" + agentPort), agentTls);
    TransportCounts perClient = new TransportCounts(0, 0, 0);
    KeylimeAgentClient kept = new KeylimeAgentClient(agentSettings);
    for (int i = 0; i < n; i++) {
      // before: the agent plugin made a client per attestation
      KeylimeAgentClient fresh = new KeylimeAgentClient(agentSettings);
      fresh.getInfo();
      fresh.getIdentityQuote("nonce" + i);
      TransportCounts c = fresh.transportCounts();
      perClient = new TransportCounts(perClient.requests() + c.requests(),
          perClient.tlsConnections() + c.tlsConnections(), perClient.fullTlsHandshakes() + c.fullTlsHandshakes());
      kept.getInfo();
      kept.getIdentityQuote("nonce" + i);
    }
    System.out.println("keylime agent load, " + n + " attestations: a client each " + perClient
        + ", one client kept " + kept.transportCounts());
    assertThat(perClient).isEqualTo(new TransportCounts(3L * n, n, n));
    assertThat(kept.transportCounts()).isEqualTo(new TransportCounts(1 + 2L * n, 1, 1));
  }

  @Test
  @Order(10)
  void killedAgentIsFailedByTheVerifier() throws Exception {
    KeylimeStack.kill(agent);
    VerifierAgentStatus st = await(Duration.ofSeconds(90), "operational_state FAILED", () -> {
      VerifierAgentStatus s = verifier.getAgent(UUID);
      return s.operationalState().orElse(null) == OperationalState.FAILED ? s : null;
    });
    assertThat(st.operationalState().get().isFailure()).isTrue();
    assertThat(st.attestationStatus()).contains(AttestationStatus.FAIL);
    assertThat(st.lastEventId()).contains("internal.verifier.not_reachable");
    assertThat(st.severityLevel()).isPresent();
    // and the agent itself is now unreachable: a retryable error
    RegistrarAgent rec = registrar.getAgent(UUID);
    TlsSettings agentTls = TlsSettings.builder()
        .trust(java.util.List.of(rec.mtlsCertificate().orElseThrow()))
        .clientCertificate(stack.path("SPIRE_CLIENT_CERT"), stack.path("SPIRE_CLIENT_KEY"), null)
        .build();
    assertThatThrownBy(() -> new KeylimeAgentClient(ClientSettings.of(
            URI.create("https://127.0.0.1:" + agentPort), agentTls)).getIdentityQuote("abc"))
        .isInstanceOfSatisfying(KeylimeUnavailableException.class, e -> assertThat(e.isRetryable()).isTrue());
  }

  // ------------------------------------------------------------------ helpers

  interface Probe<T> {
    T get() throws Exception;
  }

  static <T> T await(Duration timeout, String what, Probe<T> probe) {
    return Awaitility.await(what).atMost(timeout).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(500))
        .pollInSameThread().ignoreExceptionsInstanceOf(KeylimeUnavailableException.class)
        .until(probe::get, v -> v != null);
  }

  static int freePort() throws Exception {
    Random rnd = new Random();
    for (int i = 0; i < 200; i++) {
      int p = 20000 + rnd.nextInt(12000);
      try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getLoopbackAddress())) {
        return s.getLocalPort();
      } catch (java.io.IOException e) {
        // taken
      }
    }
    throw new IllegalStateException("no free port");
  }

  static String pem(Object o) throws Exception {
    StringWriter sw = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
      w.writeObject(o);
    }
    return sw.toString();
  }
}
