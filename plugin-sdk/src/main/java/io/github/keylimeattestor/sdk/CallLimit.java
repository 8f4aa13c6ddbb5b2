package io.github.keylimeattestor.sdk;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * At most {@code limit} calls of the plugin's own service at once; one more is refused at once with
 * Unavailable (spire-agent tries its attestation again). The host's connection carries go-plugin's
 * and SPIRE's control calls too (Configure, Deinit, Shutdown) and the HTTP/2 stream limit counts them
 * all: left to that limit alone, streams that hold every slot (attestations waiting for a challenge
 * answer, up to challenge_timeout each) would hold SPIRE's unload and reconfiguration behind them.
 * So the stream limit is this one plus a few kept for those calls.
 */
final class CallLimit implements ServerInterceptor {
  private final int limit;
  private final String what;
  private final AtomicInteger active = new AtomicInteger();

  CallLimit(int limit, String what) {
    this.limit = limit;
    this.what = what;
  }

  int active() {
    return active.get();
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
      ServerCallHandler<Q, A> next) {
    if (active.incrementAndGet() > limit) {
      active.decrementAndGet();
      call.close(Status.UNAVAILABLE.withDescription("the " + what + " plugin is serving " + limit
          + " calls at once, its most; try again"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    AtomicBoolean released = new AtomicBoolean();
    Runnable release = () -> {
      if (released.compareAndSet(false, true)) {
        active.decrementAndGet();
      }
    };
    ServerCall.Listener<Q> delegate;
    try {
      delegate = next.startCall(call, headers);
    } catch (RuntimeException | Error e) {
      release.run();
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onComplete() {
        try {
          super.onComplete();
        } finally {
          release.run();
        }
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          release.run();
        }
      }
    };
  }
}
