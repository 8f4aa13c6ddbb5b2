package io.github.keylimeattestor.sdk.internal;

import io.github.keylimeattestor.proto.spire.init.DeinitRequest;
import io.github.keylimeattestor.proto.spire.init.DeinitResponse;
import io.github.keylimeattestor.proto.spire.init.InitGrpc;
import io.github.keylimeattestor.proto.spire.init.InitRequest;
import io.github.keylimeattestor.proto.spire.init.InitResponse;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.function.Consumer;

/** SPIRE's private Init service: answers which plugin/service servers we implement; Deinit closes. */
public final class InitService extends InitGrpc.InitImplBase {
  private final List<String> pluginServiceNames;
  private final Consumer<List<String>> onInit;
  private final Runnable onDeinit;

  public InitService(List<String> pluginServiceNames, Consumer<List<String>> onInit, Runnable onDeinit) {
    this.pluginServiceNames = List.copyOf(pluginServiceNames);
    this.onInit = onInit;
    this.onDeinit = onDeinit;
  }

  @Override
  public void init(InitRequest request, StreamObserver<InitResponse> responses) {
    onInit.accept(request.getHostServiceNamesList());
    responses.onNext(InitResponse.newBuilder().addAllPluginServiceNames(pluginServiceNames).build());
    responses.onCompleted();
  }

  @Override
  public void deinit(DeinitRequest request, StreamObserver<DeinitResponse> responses) {
    onDeinit.run();
    responses.onNext(DeinitResponse.getDefaultInstance());
    responses.onCompleted();
  }
}
