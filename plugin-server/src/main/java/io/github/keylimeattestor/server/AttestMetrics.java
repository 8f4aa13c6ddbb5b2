package io.github.keylimeattestor.server;

import com.google.protobuf.Empty;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.AddSampleRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.IncrCounterRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.Label;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.MetricsGrpc;
import io.github.keylimeattestor.sdk.Observers;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
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

  /** The metrics of one stream, held until {@link Held#send}. */
  Held held() {
    return new Held();
  }

  /**
   * One attestation's metrics, sent once it has been answered. Each is a call to SPIRE's Metrics
   * host service, and the five to eight of an attestation (its phases and outcome) sent along the way
   * put about 5 ms (JIT still cold, the first 35 re-attestations) between SPIRE and its answer. Not
   * thread-safe: the stream's lock guards it.
   */
  final class Held {
    private final List<IncrCounterRequest> counters = new ArrayList<>(1);
    private final List<AddSampleRequest> samples = new ArrayList<>(6);

    void outcome(String outcome, String reason) {
      if (metrics.isPresent()) {
        counters.add(IncrCounterRequest.newBuilder().addAllKey(OUTCOME).setVal(1)
            .addLabels(label("outcome", outcome)).addLabels(label("reason", reason)).build());
      }
    }

    void phase(String phase, long nanos) {
      if (metrics.isPresent()) {
        samples.add(AddSampleRequest.newBuilder().addAllKey(PHASE_MS).setVal(nanos / 1e6f)
            .addLabels(label("phase", phase)).build());
      }
    }

    /**
     * Sends what is held and forgets it. The stub is HostServices.metricsStub's, whose calls outlive
     * the stream (this runs after the answer, as the stream ends).
     */
    void send() {
      metrics.ifPresent(m -> {
        counters.forEach(r -> m.incrCounter(r, IGNORE));
        samples.forEach(r -> m.addSample(r, IGNORE));
      });
      counters.clear();
      samples.clear();
    }
  }

  private static Label label(String name, String value) {
    return Label.newBuilder().setName(name).setValue(value).build();
  }
}
