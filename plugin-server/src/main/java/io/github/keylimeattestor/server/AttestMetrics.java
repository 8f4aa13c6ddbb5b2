package io.github.keylimeattestor.server;

import com.google.protobuf.Empty;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.AddSampleRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.IncrCounterRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.Label;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.MetricsGrpc;
import io.github.keylimeattestor.sdk.Observers;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Optional;

/**
 * Outcomes by reason and latency by phase, through SPIRE's Metrics host service when SPIRE offers
 * it (fire and forget: metrics never slow or fail an attestation).
 */
final class AttestMetrics {
  static final List<String> OUTCOME = List.of("keylime_attestor", "attestation");
  static final List<String> PHASE_MS = List.of("keylime_attestor", "phase_ms");
  private static final StreamObserver<Empty> IGNORE = Observers.ignoring();

  private final Optional<MetricsGrpc.MetricsStub> metrics;

  AttestMetrics(Optional<MetricsGrpc.MetricsStub> metrics) {
    this.metrics = metrics;
  }

  void outcome(String outcome, String reason) {
    metrics.ifPresent(m -> m.incrCounter(IncrCounterRequest.newBuilder().addAllKey(OUTCOME).setVal(1)
        .addLabels(label("outcome", outcome)).addLabels(label("reason", reason)).build(), IGNORE));
  }

  void phase(String phase, long nanos) {
    metrics.ifPresent(m -> m.addSample(AddSampleRequest.newBuilder().addAllKey(PHASE_MS).setVal(nanos / 1e6f)
        .addLabels(label("phase", phase)).build(), IGNORE));
  }

  private static Label label(String name, String value) {
    return Label.newBuilder().setName(name).setValue(value).build();
  }
}
