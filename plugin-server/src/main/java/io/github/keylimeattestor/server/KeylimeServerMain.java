package io.github.keylimeattestor.server;

import io.github.keylimeattestor.sdk.PluginMain;

/** Entry point of the keylime-attestor-server executable. */
public final class KeylimeServerMain {
  private KeylimeServerMain() {}

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("doctor")) {
      System.exit(ServerDoctor.main(args, System.out));
    }
    PluginMain.serve(new KeylimeServerPlugin(), args);
  }
}
