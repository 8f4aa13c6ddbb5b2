package io.github.keylimeattestor.server.revocation;

import com.google.protobuf.Empty;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.AddSampleRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.IncrCounterRequest;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.Label;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.MetricsGrpc;
import io.github.keylimeattestor.proto.spire.hostservice.metrics.SetGaugeRequest;
import io.github.keylimeattestor.sdk.Observers;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Optional;

/**
 * The watch's metrics, through SPIRE's Metrics host service once SPIRE offers it (fire and forget).
 * Keys: counter {@code keylime_attestor.revocation.action} (labels action, result, reason), counter
 * {@code keylime_attestor.revocation.verifier_unavailable}, sample {@code
 * keylime_attestor.revocation.cycle_ms}, gauge {@code keylime_attestor.revocation.watched}.
 */
public final class RevocationMetrics {
  static final List<String> ACTION = List.of("keylime_attestor", "revocation", "action");
  static final List<String> VERIFIER_UNAVAILABLE = List.of("keylime_attestor", "revocation", "verifier_unavailable");
  static final List<String> CYCLE_MS = List.of("keylime_attestor", "revocation", "cycle_ms");
  static final List<String> WATCHED = List.of("keylime_attestor", "revocation", "watched");
  private static final StreamObserver<Empty> IGNORE = Observers.ignoring();

  private volatile Optional<MetricsGrpc.MetricsStub> metrics = Optional.empty();

  /** Called from the plugin's Init with SPIRE's Metrics host service, if offered. */
  public void use(Optional<MetricsGrpc.MetricsStub> stub) {
    metrics = stub;
  }

  void action(RevocationConfig.Action action, String result, String reason) {
    metrics.ifPresent(m -> m.incrCounter(IncrCounterRequest.newBuilder().addAllKey(ACTION).setVal(1)
        .addLabels(label("action", action.name().toLowerCase(java.util.Locale.ROOT)))
        .addLabels(label("result", result)).addLabels(label("reason", reason)).build(), IGNORE));
  }

  void verifierUnavailable() {
    metrics.ifPresent(m -> m.incrCounter(IncrCounterRequest.newBuilder().addAllKey(VERIFIER_UNAVAILABLE).setVal(1)
        .build(), IGNORE));
  }

  void cycle(long nanos, int watched) {
    metrics.ifPresent(m -> {
      m.addSample(AddSampleRequest.newBuilder().addAllKey(CYCLE_MS).setVal(nanos / 1e6f).build(), IGNORE);
      m.setGauge(SetGaugeRequest.newBuilder().addAllKey(WATCHED).setVal(watched).build(), IGNORE);
    });
  }

  private static Label label(String name, String value) {
    return Label.newBuilder().setName(name).setValue(value).build();
  }
}
