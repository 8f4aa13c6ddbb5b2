package io.github.keylimeattestor.tpm;

import io.github.keylimeattestor.tpm.command.Auth;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.command.Startup;
import io.github.keylimeattestor.tpm.command.TpmCommand;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import io.github.keylimeattestor.tpm.transport.TpmTransport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.List;
import java.util.Random;

/**
 * Executes {@link TpmCommand}s over a {@link TpmTransport}: builds the command frame (header,
 * handles, authorization area, parameters), sends it, checks the response code and frame, and
 * hands the parameter area to the command.
 */
public final class Tpm implements AutoCloseable {
  public static final int ST_NO_SESSIONS = 0x8001;
  public static final int ST_SESSIONS = 0x8002;

  private static final int MAX_ATTEMPTS = 10;
  private final TpmTransport transport;
  private final Random random;

  public Tpm(TpmTransport transport) {
    this(transport, new SecureRandom());
  }

  /** @param random source of caller nonces (tests pass a seeded one to replay traces) */
  public Tpm(TpmTransport transport, Random random) {
    this.transport = transport;
    this.random = random;
  }

  public TpmTransport transport() {
    return transport;
  }

  public byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  /**
   * Sends the command and parses the response. TPM_RC_RETRY, TPM_RC_YIELDED and TPM_RC_TESTING
   * (the TPM asks to send the same command again) are retried a few times, as the TSS does.
   */
  public <R> R execute(TpmCommand<R> cmd) throws IOException, TpmException {
    byte[] command = marshal(cmd);
    for (int attempt = 1; ; attempt++) {
      byte[] response = transport.transmit(command);
      try {
        return parse(cmd, response);
      } catch (TpmFormatException | RuntimeException e) {
        flushWhatAnUnreadableSuccessMade(cmd, response);
        throw e;
      } catch (TpmResponseException e) {
        int rc = e.rc();
        boolean again = rc == ResponseCode.RETRY || rc == ResponseCode.YIELDED
            || rc == ResponseCode.TESTING;
        if (!again || attempt >= MAX_ATTEMPTS) {
          throw e;
        }
        pause(attempt);
      }
    }
  }

  /**
   * A success whose parameters we refuse still made its object or session, and nobody else would
   * flush it on swtpm or /dev/tpm0 (no resource manager): each such answer would cost the Keylime
   * agent a slot for good. Best effort; the format error is what the caller hears.
   */
  private void flushWhatAnUnreadableSuccessMade(TpmCommand<?> cmd, byte[] response) {
    if (cmd.responseHandleCount() == 0 || response.length < 14 || ByteBuffer.wrap(response, 6, 4).getInt() != 0) {
      return;
    }
    int handle = ByteBuffer.wrap(response, 10, 4).getInt();
    int type = handle >>> 24;
    if (type != 0x80 && type != 0x02 && type != 0x03) { // only transient objects and sessions are flushable
      return;
    }
    try {
      transport.transmit(marshal(new FlushContext(handle)));
    } catch (IOException | RuntimeException e) {
      // the format error stands; a handle left behind shows in tpm2_getcap handles-transient
    }
  }

  /**
   * TPM2_Startup; TPM_RC_INITIALIZE means "already started" and is not an error.
   *
   * @return true if this call started the TPM, false if it was already started
   */
  public boolean startup(int startupType) throws IOException, TpmException {
    try {
      return execute(new Startup(startupType));
    } catch (TpmResponseException e) {
      if (e.rc() == ResponseCode.INITIALIZE) {
        return false;
      }
      throw e;
    }
  }

  private static void pause(int attempt) throws IOException {
    try {
      Thread.sleep(attempt * 5L);
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while retrying a TPM command");
    }
  }

  static byte[] marshal(TpmCommand<?> cmd) {
    List<Auth> auths = cmd.authorizations();
    TpmWriter body = new TpmWriter();
    for (int h : cmd.handles()) {
      body.u32(h);
    }
    if (!auths.isEmpty()) {
      TpmWriter area = new TpmWriter();
      for (Auth a : auths) {
        a.marshal(area);
      }
      byte[] a = area.toByteArray();
      body.u32(a.length).bytes(a);
    }
    cmd.parameters(body);
    byte[] b = body.toByteArray();
    return new TpmWriter()
        .u16(auths.isEmpty() ? ST_NO_SESSIONS : ST_SESSIONS)
        .u32(10 + b.length)
        .u32(cmd.commandCode())
        .bytes(b)
        .toByteArray();
  }

  static <R> R parse(TpmCommand<R> cmd, byte[] response) throws TpmException {
    TpmReader r = new TpmReader(response);
    int tag = r.u16("response tag");
    int size = r.u32("responseSize");
    if (size != response.length) {
      throw new TpmFormatException("response of " + response.length + " bytes says it has " + size);
    }
    int rc = r.u32("responseCode");
    if (rc != 0) {
      throw new TpmResponseException(cmd.commandCode(), ResponseCode.decode(rc));
    }
    boolean sessions = !cmd.authorizations().isEmpty();
    if (tag != (sessions ? ST_SESSIONS : ST_NO_SESSIONS)) {
      throw new TpmFormatException(String.format("unexpected response tag 0x%04x", tag));
    }
    int[] handles = new int[cmd.responseHandleCount()];
    for (int i = 0; i < handles.length; i++) {
      handles[i] = r.u32("response handle");
    }
    TpmReader params;
    if (sessions) {
      int paramSize = r.u32("parameterSize");
      params = r.sub(paramSize, "response parameters");
      for (int i = 0; i < cmd.authorizations().size(); i++) {
        r.tpm2b(64, "response nonce");
        r.u8("response session attributes");
        r.tpm2b(64, "response hmac");
      }
      r.expectEnd("response authorization area");
    } else {
      params = r;
    }
    R result = cmd.response(handles, params);
    params.expectEnd(CommandCode.name(cmd.commandCode()) + " response");
    return result;
  }

  @Override
  public void close() throws IOException {
    transport.close();
  }
}
