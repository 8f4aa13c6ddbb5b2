package io.github.keylimeattestor.server;

import io.github.keylimeattestor.sdk.PluginMain;

/** Entry point of the keylime-attestor-server executable. */
public final class KeylimeServerMain {
  private KeylimeServerMain() {}

  public static void main(String[] args) {
    PluginMain.serve(new KeylimeServerPlugin(), args);
  }
}
