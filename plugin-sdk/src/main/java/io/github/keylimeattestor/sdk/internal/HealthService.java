package io.github.keylimeattestor.sdk.internal;

import io.github.keylimeattestor.proto.health.HealthCheckRequest;
import io.github.keylimeattestor.proto.health.HealthCheckResponse;
import io.github.keylimeattestor.proto.health.HealthCheckResponse.ServingStatus;
import io.github.keylimeattestor.proto.health.HealthGrpc;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;

/** gRPC health: go-plugin's convention is service "plugin" = SERVING (and "" for the whole server). */
public final class HealthService extends HealthGrpc.HealthImplBase {
  @Override
  public void check(HealthCheckRequest request, StreamObserver<HealthCheckResponse> responses) {
    if (!known(request.getService())) {
      responses.onError(Status.NOT_FOUND.withDescription("unknown service " + request.getService()).asRuntimeException());
      return;
    }
    responses.onNext(HealthCheckResponse.newBuilder().setStatus(ServingStatus.SERVING).build());
    responses.onCompleted();
  }

  @Override
  public void watch(HealthCheckRequest request, StreamObserver<HealthCheckResponse> responses) {
    ServingStatus status = known(request.getService()) ? ServingStatus.SERVING : ServingStatus.SERVICE_UNKNOWN;
    responses.onNext(HealthCheckResponse.newBuilder().setStatus(status).build());
    // Status never changes while the process lives; the stream stays open until the client leaves.
  }

  private static boolean known(String service) {
    return service.isEmpty() || service.equals("plugin");
  }
}
