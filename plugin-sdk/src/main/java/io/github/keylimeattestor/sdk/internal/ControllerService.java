package io.github.keylimeattestor.sdk.internal;

import io.github.keylimeattestor.proto.goplugin.Empty;
import io.github.keylimeattestor.proto.goplugin.GRPCControllerGrpc;
import io.grpc.stub.StreamObserver;

/** go-plugin's controller: Shutdown replies first, then the process exits (the host waits only 2 s). */
public final class ControllerService extends GRPCControllerGrpc.GRPCControllerImplBase {
  private final Runnable exit;

  public ControllerService(Runnable exit) {
    this.exit = exit;
  }

  @Override
  public void shutdown(Empty request, StreamObserver<Empty> responses) {
    responses.onNext(Empty.getDefaultInstance());
    responses.onCompleted();
    Thread t = new Thread(exit, "plugin-shutdown");
    t.setDaemon(false);
    t.start();
  }
}
