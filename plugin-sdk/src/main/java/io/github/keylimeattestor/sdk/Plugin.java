package io.github.keylimeattestor.sdk;

import io.grpc.ServerServiceDefinition;
import io.grpc.StatusException;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import java.util.List;

/**
 * What a plugin author writes: one SPIRE plugin service (a NodeAttestor by default; a KeyManager or
 * CredentialComposer by overriding {@link #type} and {@link #pluginService}) plus its configuration.
 * Everything else (go-plugin handshake, broker, controller, health, Init/Deinit, logging) is
 * {@link PluginMain}'s job.
 */
public interface Plugin {

  /** Name used as the {@code @module} of log lines. */
  String name();

  /**
   * SPIRE's plugin type, as written in the plugin block ({@code NodeAttestor "keylime" {...}}): the
   * go-plugin magic cookie key and value that SPIRE sets in the plugin's environment.
   */
  default String type() {
    return "NodeAttestor";
  }

  /** The bound NodeAttestor service (agent or server side), for plugins of type NodeAttestor. */
  default ServerServiceDefinition nodeAttestor() {
    throw new UnsupportedOperationException(name() + " (a " + type() + " plugin) implements neither nodeAttestor() nor "
        + "pluginService()");
  }

  /** The bound plugin service of {@link #type}; its full name goes first into Init's answer. */
  default ServerServiceDefinition pluginService() {
    return nodeAttestor();
  }

  /**
   * Applies {@code plugin_data}. Must replace the configuration atomically: SPIRE may call it again
   * (plugin_data_file + SIGUSR1) while attestations run. Throw InvalidArgument for bad input.
   */
  void configure(CoreConfiguration core, String hclConfiguration) throws StatusException;

  /** Checks {@code plugin_data} without applying it; {@code spire-server validate} shows the notes. */
  Validation validate(CoreConfiguration core, String hclConfiguration);

  /** Called once after SPIRE's Init with the host services SPIRE offers. */
  default void init(HostServices hostServices) {}

  /**
   * For {@code --train-cds} only, after Init and a Configure that may have been refused: runs once
   * what an attestation runs that needs no peer (no TPM, Keylime or SPIRE: parsers and encoders over
   * made-up input), so that those classes go into the class-data archive instead of being read from
   * the jar during the first attestation. Must not open a TPM or the network; a failure only makes
   * the archive smaller (PluginMain logs it).
   */
  default void trainOffline() throws Exception {}

  /** Called on Deinit, before the process exits. */
  default void close() {}

  /** Result of {@link #validate}. */
  record Validation(boolean valid, List<String> notes) {
    public Validation {
      notes = List.copyOf(notes);
    }

    public static Validation ok(List<String> notes) {
      return new Validation(true, notes);
    }

    public static Validation invalid(String note) {
      return new Validation(false, List.of(note));
    }

    /** Refused, with one note per problem. */
    public static Validation invalid(List<String> notes) {
      return new Validation(false, notes);
    }
  }
}
