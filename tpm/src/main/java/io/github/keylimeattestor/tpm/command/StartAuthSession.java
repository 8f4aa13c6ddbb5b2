package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;

/**
 * TPM2_StartAuthSession, unbound and unsalted (tpmKey = bind = TPM_RH_NULL), no parameter
 * encryption. {@code nonceCaller} must be 16 bytes up to the digest size of {@code authHash}.
 */
public record StartAuthSession(byte[] nonceCaller, int sessionType, int authHash)
    implements TpmCommand<StartAuthSession.Response> {
  public static final int SE_HMAC = 0x00;
  public static final int SE_POLICY = 0x01;
  public static final int SE_TRIAL = 0x03;

  public record Response(int handle, Bytes nonceTpm) {}

  public static StartAuthSession policy(byte[] nonceCaller) {
    return new StartAuthSession(nonceCaller, SE_POLICY, Alg.SHA256);
  }

  @Override
  public int commandCode() {
    return CommandCode.START_AUTH_SESSION;
  }

  @Override
  public int[] handles() {
    return new int[] {Handles.RH_NULL, Handles.RH_NULL};
  }

  @Override
  public void parameters(TpmWriter w) {
    w.tpm2b(nonceCaller).tpm2b(new byte[0]).u8(sessionType).u16(Alg.NULL).u16(authHash);
  }

  @Override
  public int responseHandleCount() {
    return 1;
  }

  @Override
  public Response response(int[] h, TpmReader p) throws TpmFormatException {
    return new Response(h[0], p.tpm2bValue(64, "nonceTPM"));
  }
}
