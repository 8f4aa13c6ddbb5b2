package io.github.keylimeattestor.sdk.internal;

import io.github.keylimeattestor.proto.goplugin.ConnInfo;
import io.github.keylimeattestor.proto.goplugin.GRPCBrokerGrpc;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;

/**
 * go-plugin's broker: the host opens StartStream at load time and keeps it open; during Dispense it
 * sends the address of its host-service listener (service ID 1). Without this service SPIRE fails to
 * load the plugin ("broker closed"). We never send anything on it.
 */
public final class BrokerService extends GRPCBrokerGrpc.GRPCBrokerImplBase {
  private static final Log LOG = Log.named("broker");

  private final int wantedId;
  private final CompletableFuture<ConnInfo> wanted = new CompletableFuture<>();

  public BrokerService(int wantedId) {
    this.wantedId = wantedId;
  }

  /**
   * Completes when the host announces the service {@code wantedId}, or exceptionally if the stream
   * ends before that; kept for the process life.
   */
  public CompletableFuture<ConnInfo> connInfo() {
    return wanted;
  }

  @Override
  public StreamObserver<ConnInfo> startStream(StreamObserver<ConnInfo> responses) {
    return new StreamObserver<>() {
      @Override
      public void onNext(ConnInfo info) {
        LOG.debug("broker connection info received", "service_id", (long) info.getServiceId(),
            "network", info.getNetwork(), "address", info.getAddress());
        if (info.getServiceId() == wantedId) {
          wanted.complete(info);
        }
      }

      @Override
      public void onError(Throwable t) {
        // The host cancels the stream when it unloads the plugin. Before it sent the address, no
        // address will come: host-service lookups then stop at once instead of waiting for it.
        wanted.completeExceptionally(new IllegalStateException("broker stream ended: " + t));
      }

      @Override
      public void onCompleted() {
        wanted.completeExceptionally(new IllegalStateException("broker stream ended"));
        responses.onCompleted();
      }
    };
  }
}
