package io.github.keylimeattestor.tpm.transport;

import java.io.IOException;

/**
 * A command was sent but its reply did not come (timeout, connection lost): the TPM may have run
 * it, or may still. Not to be sent again blindly: a FlushContext sent twice can flush another
 * client's object that took the freed handle number in between.
 */
public final class CommandMayHaveRunException extends IOException {
  private static final long serialVersionUID = 1L;

  public CommandMayHaveRunException(String message, Throwable cause) {
    super(message, cause);
  }
}
