package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/**
 * A typed TPM 2.0 command: its handles, authorizations and parameters, and how to read its
 * response. {@code Tpm.execute} does the framing; a command knows nothing of the transport.
 *
 * @param <R> the response type
 */
public interface TpmCommand<R> {
  int commandCode();

  /** Handles of the handle area, in order. */
  default int[] handles() {
    return new int[0];
  }

  /** One authorization per handle that needs one; empty means a no-sessions command. */
  default List<Auth> authorizations() {
    return List.of();
  }

  default void parameters(TpmWriter w) {}

  /** How many handles the response's handle area holds. */
  default int responseHandleCount() {
    return 0;
  }

  /** Reads the response; {@code params} must be fully consumed. */
  R response(int[] handles, TpmReader params) throws TpmFormatException;
}
