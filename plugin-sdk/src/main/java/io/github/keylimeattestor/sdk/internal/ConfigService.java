package io.github.keylimeattestor.sdk.internal;

import io.github.keylimeattestor.proto.spire.config.ConfigGrpc;
import io.github.keylimeattestor.proto.spire.config.ConfigureRequest;
import io.github.keylimeattestor.proto.spire.config.ConfigureResponse;
import io.github.keylimeattestor.proto.spire.config.ValidateRequest;
import io.github.keylimeattestor.proto.spire.config.ValidateResponse;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;

/** SPIRE's Config service, delegating to the plugin. Errors never escape as anything but a status. */
public final class ConfigService extends ConfigGrpc.ConfigImplBase {
  private static final Log LOG = Log.named("config");

  private final Plugin plugin;

  public ConfigService(Plugin plugin) {
    this.plugin = plugin;
  }

  @Override
  public void configure(ConfigureRequest request, StreamObserver<ConfigureResponse> responses) {
    try {
      plugin.configure(request.getCoreConfiguration(), request.getHclConfiguration());
      responses.onNext(ConfigureResponse.getDefaultInstance());
      responses.onCompleted();
    } catch (StatusException e) {
      LOG.error("configuration refused", "error", e.getStatus().getDescription());
      responses.onError(e);
    } catch (RuntimeException e) {
      LOG.error("configuration failed", "error", e);
      responses.onError(Status.INTERNAL.withDescription("configure failed: " + e).asException());
    }
  }

  @Override
  public void validate(ValidateRequest request, StreamObserver<ValidateResponse> responses) {
    try {
      Plugin.Validation v = plugin.validate(request.getCoreConfiguration(), request.getHclConfiguration());
      responses.onNext(ValidateResponse.newBuilder().setValid(v.valid()).addAllNotes(v.notes()).build());
      responses.onCompleted();
    } catch (RuntimeException e) {
      LOG.error("validation failed", "error", e);
      responses.onError(Status.INTERNAL.withDescription("validate failed: " + e).asException());
    }
  }
}
