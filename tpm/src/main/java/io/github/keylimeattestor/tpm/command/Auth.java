package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.structure.TpmWriter;

/**
 * One TPMS_AUTH_COMMAND. Only password sessions and unbound, unsalted policy sessions whose policy
 * needs no authValue (e.g. PolicySecret) are used here, so no HMAC is ever computed.
 */
public record Auth(int sessionHandle, Bytes nonce, int attributes, Bytes hmac) {
  public static final int CONTINUE_SESSION = 0x01;


  /** Password session (TPM_RS_PW) with the given password. */
  public static Auth password(byte[] password) {
    return new Auth(Handles.RS_PW, Bytes.empty(), 0, Bytes.copyFrom(password));
  }

  /** Password session with an empty password. */
  public static Auth empty() {
    return password(new byte[0]);
  }

  /** A satisfied policy session; it is flushed by the TPM after the command succeeds. */
  public static Auth policy(int sessionHandle) {
    return new Auth(sessionHandle, Bytes.empty(), 0, Bytes.empty());
  }

  public void marshal(TpmWriter w) {
    w.u32(sessionHandle).tpm2b(nonce.toByteArray()).u8(attributes).tpm2b(hmac.toByteArray());
  }
}
