package io.github.keylimeattestor.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.proto.spire.config.ConfigGrpc;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.config.ValidateRequest;
import io.github.keylimeattestor.proto.spire.server.nodeattestor.NodeAttestorGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plugin's own gRPC server, in process, over its real Unix socket: messages over the bound are refused. */
class MessageBoundTest {

  /** Accepts any configuration; the test is about what reaches it. */
  static final class AnyConfig implements Plugin {
    @Override
    public String name() {
      return "bound-test";
    }

    @Override
    public ServerServiceDefinition nodeAttestor() {
      return new NodeAttestorGrpc.NodeAttestorImplBase() {}.bindService();
    }

    @Override
    public void configure(CoreConfiguration core, String hcl) {}

    @Override
    public Validation validate(CoreConfiguration core, String hcl) {
      return Validation.ok(List.of("got " + hcl.length() + " characters"));
    }
  }

  @Test
  void aMessageOverTheBoundIsRefusedWithResourceExhaustedAndTheNextOneWorks(@TempDir Path dir) throws Exception {
    PluginMain main = new PluginMain(new AnyConfig());
    String handshake = main.start(Map.of("PLUGIN_UNIX_SOCKET_DIR", dir.toString()));
    String socket = handshake.split("\\|")[3];
    Transport client = new Transport();
    ManagedChannel ch = client.dial(socket);
    try {
      var stub = ConfigGrpc.newBlockingStub(ch);
      String big = "#".repeat(PluginMain.MAX_INBOUND_MESSAGE_BYTES);
      assertThatThrownBy(() -> stub.validate(ValidateRequest.newBuilder().setHclConfiguration(big).build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(e.getStatus().getDescription()).contains("exceeds maximum size " + PluginMain.MAX_INBOUND_MESSAGE_BYTES);
          });
      String fits = "#".repeat(PluginMain.MAX_INBOUND_MESSAGE_BYTES - 64);
      assertThat(stub.validate(ValidateRequest.newBuilder().setHclConfiguration(fits).build()).getNotesList())
          .containsExactly("got " + fits.length() + " characters");
    } finally {
      ch.shutdownNow();
      client.close();
      main.stop();
    }
  }
}
