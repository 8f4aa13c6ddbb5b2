package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.transport.Tcti;
import java.io.IOException;
import java.time.Duration;

/** How a plugin of this executable reaches the TPM: the NodeAttestor and the KeyManager share these settings. */
interface TpmSettings {
  /** The configured TPM, or {@link Tcti#defaultSpec()} looked up now. */
  Tcti.Spec tpm() throws IOException;

  /** The TPM in words, for logs and messages. */
  String tpmDescription();

  /** The EK under which the Keylime AK loads (unused by the KeyManager). */
  KeylimeTpm.Primary ek();

  /** Budget of one TPM use, retries of transient TPM conditions included. */
  Duration timeout();
}
