package io.github.keylimeattestor.sdk;

import io.grpc.stub.StreamObserver;

/** Small gRPC stream helpers. */
public final class Observers {
  private static final StreamObserver<Object> IGNORING = new StreamObserver<>() {
    @Override
    public void onNext(Object value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  };

  private Observers() {}

  /** An observer that drops everything: for a stream already failed, or replies nobody reads. */
  @SuppressWarnings("unchecked")
  public static <T> StreamObserver<T> ignoring() {
    return (StreamObserver<T>) IGNORING;
  }
}
