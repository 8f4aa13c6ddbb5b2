package io.github.keylimeattestor.server;

import io.github.keylimeattestor.sdk.PluginMain;

/**
 * Entry point of the keylime-attestor-server executable: {@code NodeAttestor "keylime"} or, in a
 * {@code CredentialComposer "keylime_tpm_bound_svid"} block, the composer that refuses agent SVIDs
 * for keys the TPM attestation did not certify; SPIRE's magic cookie says which.
 */
public final class KeylimeServerMain {
  private KeylimeServerMain() {}

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("doctor")) {
      System.exit(ServerDoctor.main(args, System.out));
    }
    PluginMain.serve(args, new KeylimeServerPlugin(), new io.github.keylimeattestor.server.svid.TpmBoundSvidComposer());
  }
}
