package io.github.keylimeattestor.agent;

import com.google.protobuf.Empty;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.AddSampleRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.IncrCounterRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.Label;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.MetricsGrpc;
import io.github.keylimeattestor.sdk.Observers;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The agent plugin's metrics, through spire-agent's Metrics host service when it offers one (fire
 * and forget). spire-agent's Prometheus endpoint shows them as {@code spire_agent_keylime_attestor_attestation}
 * (labels {@code outcome}: ok or the gRPC code in lower case; {@code phase}: payload or challenge) and
 * {@code spire_agent_keylime_attestor_tpm_ms} (label {@code step}: payload = EK + App Key, challenge = quote
 * + certify, or the Keylime agent's identity quote).
 */
final class AgentMetrics {
  static final List<String> ATTESTATION = List.of("keylime_attestor", "attestation");
  static final List<String> TPM_MS = List.of("keylime_attestor", "tpm_ms");
  private static final StreamObserver<Empty> IGNORE = Observers.ignoring();

  private final Optional<MetricsGrpc.MetricsStub> metrics;

  AgentMetrics(Optional<MetricsGrpc.MetricsStub> metrics) {
    this.metrics = metrics;
  }

  // The stub is HostServices.metricsStub's: its calls outlive SPIRE's attestation stream.
  void outcome(String phase, String outcome) {
    metrics.ifPresent(m -> m.incrCounter(IncrCounterRequest.newBuilder().addAllKey(ATTESTATION)
        .setVal(1).addLabels(label("outcome", outcome.toLowerCase(Locale.ROOT))).addLabels(label("phase", phase))
        .build(), IGNORE));
  }

  void tpm(String step, long nanos) {
    metrics.ifPresent(m -> m.addSample(AddSampleRequest.newBuilder().addAllKey(TPM_MS)
        .setVal(nanos / 1e6f).addLabels(label("step", step)).build(), IGNORE));
  }

  private static Label label(String name, String value) {
    return Label.newBuilder().setName(name).setValue(value).build();
  }
}
