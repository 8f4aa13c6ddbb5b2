package io.github.keylimeattestor.it.testattestor;

import io.github.keylimeattestor.sdk.PluginMain;

/**
 * A small NodeAttestor pair on plugin-sdk, used to prove that stock SPIRE loads, configures,
 * attests through, re-attests through and unloads our Java plugins. NOT a secure attestor: one
 * HMAC challenge/response over a shared secret. {@code plugin_args = ["agent"]} or {@code ["server"]}.
 */
public final class TestAttestorMain {
  private TestAttestorMain() {}

  public static void main(String[] args) {
    String role = args.length > 0 ? args[0] : "";
    switch (role) {
      case "agent" -> PluginMain.serve(new TestAgentPlugin());
      case "server" -> PluginMain.serve(new TestServerPlugin());
      default -> {
        System.err.println("usage: test-attestor agent|server (set plugin_args in SPIRE's config)");
        System.exit(2);
      }
    }
  }
}
