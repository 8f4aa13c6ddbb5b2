package io.github.keylimeattestor.sdk.internal;

import com.google.protobuf.Empty;
import io.github.keylimeattestor.proto.goplugin.GRPCStdioGrpc;
import io.github.keylimeattestor.proto.goplugin.StdioData;
import io.grpc.stub.StreamObserver;

/**
 * go-plugin's stdio forwarding. SPIRE discards what arrives here and our output goes to the real
 * stderr, so the stream is held open and stays silent until the host cancels it.
 */
public final class StdioService extends GRPCStdioGrpc.GRPCStdioImplBase {
  @Override
  public void streamStdio(Empty request, StreamObserver<StdioData> responses) {
    // Intentionally never completed: completing would make the host log a stdio error.
  }
}
