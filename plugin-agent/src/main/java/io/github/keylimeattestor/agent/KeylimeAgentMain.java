package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.sdk.PluginMain;

/** Entry point of the keylime-attestor-agent executable. */
public final class KeylimeAgentMain {
  private KeylimeAgentMain() {}

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("doctor")) {
      System.exit(AgentDoctor.main(args, System.out));
    }
    PluginMain.serve(new KeylimeAgentPlugin(), args);
  }
}
