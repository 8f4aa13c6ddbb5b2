package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AvailabilityTest {
  @TempDir Path tmp;
  Fixture fx;

  @BeforeEach
  void setUp() throws Exception {
    fx = new Fixture(tmp);
  }

  private static URI closedPort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return URI.create("https://127.0.0.1:" + s.getLocalPort());
    }
  }

  @Test
  void refusedConnectionIsRetryable() throws Exception {
    VerifierClient c = new VerifierClient(ClientSettings.of(closedPort(), fx.tls()));
    assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
        .isInstanceOfSatisfying(KeylimeUnavailableException.class, e -> {
          assertThat(e.isRetryable()).isTrue();
          assertThat(e.timedOut()).isFalse();
          assertThat(e.getMessage()).contains("verifier").contains("connection refused");
        });
  }

  @Test
  @org.junit.jupiter.api.Timeout(60) // a hang guard: the message proves the 700 ms bound applied
  void silentServerTimesOut() throws Exception {
    // accepts TCP connections (backlog) but never speaks TLS
    try (ServerSocket silent = new ServerSocket()) {
      silent.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 5);
      URI u = URI.create("https://127.0.0.1:" + silent.getLocalPort());
      VerifierClient c = new VerifierClient(
          new ClientSettings(List.of(u), fx.tls(), Duration.ofMillis(700), Optional.empty()));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeUnavailableException.class, e -> {
            assertThat(e.timedOut()).isTrue();
            assertThat(e.isRetryable()).isTrue();
            assertThat(e.getMessage()).endsWith("timed out after 700ms: the port accepts TCP connections but sent "
                + "no TLS handshake, so it most likely serves plain HTTP (e.g. the registrar's port, 8890 by default, "
                + "instead of its tls_port, 8891): use the HTTPS port; else the server is too busy to finish a "
                + "handshake within keylime_timeout");
          });
    }
  }

  /**
   * A connect timeout long past keylime_timeout: JDK 17's HttpClient resolved the host name first, on
   * the caller's thread, which the timeout does not bound; the message blames DNS, not a plain-HTTP port.
   */
  @Test
  void aConnectTimeoutLongPastTheTimeoutBlamesTheResolver() throws Exception {
    URI u = URI.create("https://verifier.keylime.test:8881/v2.3/agents/x");
    TlsDiagnosis d = new TlsDiagnosis("verifier",
        new ClientSettings(List.of(u), fx.tls(), Duration.ofMillis(700), Optional.empty()));
    long sixSecondsAgo = System.nanoTime() - java.util.concurrent.TimeUnit.SECONDS.toNanos(6);
    KeylimeException e = d.classify(new java.net.http.HttpConnectTimeoutException("HTTP connect timed out"), u,
        sixSecondsAgo);
    assertThat(e).isInstanceOf(KeylimeUnavailableException.class);
    assertThat(e.getMessage()).contains("timed out after 700ms, but took 6").contains("resolving the host name "
        + "'verifier.keylime.test' is slow (DNS)").doesNotContain("plain HTTP");
  }

  @Test
  void bodyThatStopsHalfWayTimesOut() throws Exception {
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      // headers and the first byte of a 100-byte body, then nothing: the request timeout (headers) has passed
      s.route("/v2.6/agents/" + Fixture.UUID, ex -> {
        ex.sendResponseHeaders(200, 100);
        ex.getResponseBody().write('{');
        ex.getResponseBody().flush();
        try {
          release.await(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        throw new java.io.IOException("test server gives up");
      });
      VerifierClient c = new VerifierClient(
          new ClientSettings(List.of(s.uri()), fx.tls(), Duration.ofMillis(700), Optional.empty()));
      c.apiVersion();
      try {
        assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
            .isInstanceOfSatisfying(KeylimeUnavailableException.class, e -> {
              assertThat(e.timedOut()).isTrue();
              assertThat(e.getMessage()).contains("did not answer within 700ms");
            });
      } finally {
        release.countDown();
      }
    }
  }

  @Test
  void serverErrorsAreRetryable() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 500,
          "{\"code\":500,\"status\":\"Unexpected error\",\"results\":{}}");
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
          .isInstanceOfSatisfying(KeylimeUnavailableException.class, e -> {
            assertThat(e.isRetryable()).isTrue();
            assertThat(e.getMessage()).contains("500").contains("Unexpected error");
          });
    }
  }

  @Test
  void failsOverToTheNextUrl() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("3", "PASS", 2, 1));
      URI dead = closedPort();
      VerifierClient c = new VerifierClient(
          new ClientSettings(List.of(dead, s.uri()), fx.tls(), Duration.ofSeconds(5), Optional.empty()));
      assertThat(c.getAgent(Fixture.UUID).attestationCount()).isEqualTo(2);
      // a Keylime answer (here 404) is final: not masked by trying further URLs
      s.route("/v2.6/agents/" + Fixture.UUID, 404, "{\"code\":404,\"status\":\"agent id not found\",\"results\":{}}");
      VerifierClient c2 = new VerifierClient(
          new ClientSettings(List.of(s.uri(), dead), fx.tls(), Duration.ofSeconds(5), Optional.empty()));
      assertThatThrownBy(() -> c2.getAgent(Fixture.UUID)).isInstanceOf(KeylimeApiException.class);
    }
  }

  @Test
  void allUrlsDownListsEach() throws Exception {
    URI a = closedPort();
    URI b = closedPort();
    VerifierClient c = new VerifierClient(
        new ClientSettings(List.of(a, b), fx.tls(), Duration.ofSeconds(5), Optional.empty()));
    assertThatThrownBy(() -> c.getAgent(Fixture.UUID))
        .isInstanceOfSatisfying(KeylimeUnavailableException.class, e -> {
          assertThat(e.getMessage()).contains("no verifier URL answered")
              .contains(a.getAuthority()).contains(b.getAuthority());
          assertThat(e.getSuppressed()).hasSize(2);
        });
  }

  @Test
  void reusesPooledConnections() throws Exception {
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("3", "PASS", 2, 1));
      VerifierClient c = new VerifierClient(ClientSettings.of(s.uri(), fx.tls()));
      for (int i = 0; i < 5; i++) {
        c.getAgent(Fixture.UUID);
      }
      assertThat(s.requests).hasSize(6); // one /version, five reads
    }
  }
}
