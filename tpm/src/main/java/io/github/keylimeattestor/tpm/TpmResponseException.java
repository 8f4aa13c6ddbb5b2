package io.github.keylimeattestor.tpm;

/** The TPM answered a command with a response code other than TPM_RC_SUCCESS. */
public final class TpmResponseException extends TpmException {
  private static final long serialVersionUID = 1L;
  private final int commandCode;
  private final ResponseCode responseCode;

  public TpmResponseException(int commandCode, ResponseCode responseCode) {
    super(CommandCode.name(commandCode) + " failed: " + responseCode);
    this.commandCode = commandCode;
    this.responseCode = responseCode;
  }

  public int commandCode() {
    return commandCode;
  }

  public ResponseCode responseCode() {
    return responseCode;
  }

  /** The raw TPM_RC value. */
  public int rc() {
    return responseCode.value();
  }
}
