package io.github.keylimeattestor.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.keylimeattestor.keylime.KeylimeApiException;
import io.grpc.Status;
import io.grpc.StatusException;
import java.net.URI;
import org.junit.jupiter.api.Test;

class KeylimeErrorsTest {
  private static final URI REGISTRAR = URI.create("https://127.0.0.1:8891/v2.3/agents/u-1");

  private static KeylimeApiException answered(int status, String message) {
    return new KeylimeApiException("GET " + REGISTRAR + " answered " + status + ": " + message, REGISTRAR, status,
        message);
  }

  /** Keylime's registrar takes a connection without a client certificate, then answers 403. */
  @Test
  void aClientCertificateKeylimeRefusesIsAConfigurationToFixNotAnOutage() {
    for (int code : new int[] {401, 403}) {
      StatusException e = KeylimeErrors.toStatus("registrar", "u-1", answered(code, "Forbidden"));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(e.getStatus().getDescription()).contains("registrar_tls").contains("trusted_client_ca");
    }
  }

  @Test
  void anAgentKeylimeDoesNotKnowYetIsUnavailable() {
    StatusException e = KeylimeErrors.toStatus("verifier", "u-1", answered(404, "agent id not found"));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getStatus().getDescription()).contains("keylime_tenant -c add");
  }

  @Test
  void anotherClientErrorStaysUnavailable() {
    assertThat(KeylimeErrors.toStatus("verifier", "u-1", answered(429, "slow down")).getStatus().getCode())
        .isEqualTo(Status.Code.UNAVAILABLE);
  }
}
