package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.github.keylimeattestor.tpm.command.Auth;
import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.command.Load;
import io.github.keylimeattestor.tpm.command.NvRead;
import io.github.keylimeattestor.tpm.command.PcrReset;
import io.github.keylimeattestor.tpm.command.PolicySecret;
import io.github.keylimeattestor.tpm.command.ReadPublic;
import io.github.keylimeattestor.tpm.command.StartAuthSession;
import io.github.keylimeattestor.tpm.command.TpmCommand;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** TPM errors forced on a real swtpm decode to the right name and handle/parameter/session. */
class TpmErrorsTest {
  static Swtpm swtpm;
  static Tpm tpm;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    tpm = swtpm.tpm();
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) {
      swtpm.close();
    }
  }

  @AfterEach
  void clean() throws Exception {
    assertThat(new KeylimeTpm(tpm).transientHandles()).isEmpty();
  }

  private static ResponseCode fail(TpmCommand<?> cmd) {
    TpmResponseException e = catchThrowableOfType(TpmResponseException.class, () -> tpm.execute(cmd));
    assertThat(e).as("expected a TPM error").isNotNull();
    assertThat(e.getMessage()).contains(CommandCode.name(cmd.commandCode())).contains(e.responseCode().name());
    return e.responseCode();
  }

  @Test
  void missingPersistentHandle() {
    ResponseCode rc = fail(new ReadPublic(0x81000099));
    assertThat(rc.name()).isEqualTo("TPM_RC_HANDLE");
    assertThat(rc.handle()).isEqualTo(1);
    assertThat(rc.value()).isEqualTo(0x18B);
    assertThat(rc.toString()).contains("(handle 1)").contains("no such object");
  }

  @Test
  void outOfObjectMemory() throws Exception {
    List<Integer> loaded = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        loaded.add(tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256())).handle());
      }
      ResponseCode rc = fail(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256()));
      assertThat(rc.name()).isEqualTo("TPM_RC_OBJECT_MEMORY");
      assertThat(rc.isWarning()).isTrue();
      assertThat(rc.description()).contains("transient slots");
    } finally {
      for (int h : loaded) {
        tpm.execute(new FlushContext(h));
      }
    }
  }

  @Test
  void wrongEndorsementPassword() throws Exception {
    int session = tpm.execute(StartAuthSession.policy(tpm.randomBytes(32))).handle();
    try {
      ResponseCode rc = fail(new PolicySecret(Handles.RH_ENDORSEMENT,
          Auth.password("wrong".getBytes(java.nio.charset.StandardCharsets.US_ASCII)), session));
      assertThat(rc.name()).isEqualTo("TPM_RC_BAD_AUTH");
      assertThat(rc.session()).isEqualTo(1);
      assertThat(rc.value()).isEqualTo(0x9A2);
    } finally {
      tpm.execute(new FlushContext(session));
    }
  }

  @Test
  void ekUsedWithoutPolicySession() throws Exception {
    KeyBlob ak = new KeylimeAgentTpm(tpm).createAk(Templates.akRsa(Alg.SHA256));
    ResponseCode rc = fail(new Load(Handles.PERSISTENT_EK_RSA, Auth.empty(), ak));
    assertThat(rc.name()).isEqualTo("TPM_RC_AUTH_UNAVAILABLE");
  }

  @Test
  void corruptedKeyBlob() throws Exception {
    KeylimeTpm k = new KeylimeTpm(tpm);
    KeyBlob app = k.createAppKey(Templates.appKeyEccP256());
    byte[] priv = app.privateBlob().toByteArray();
    priv[priv.length - 1] ^= 1;
    CreatePrimary.Response srk = tpm.execute(CreatePrimary.of(Handles.RH_OWNER, Templates.srkEccP256()));
    try {
      ResponseCode rc = fail(new Load(srk.handle(), Auth.empty(), new KeyBlob(app.publicArea(), Bytes.copyFrom(priv))));
      assertThat(rc.name()).isEqualTo("TPM_RC_INTEGRITY");
      assertThat(rc.parameter()).isEqualTo(1);
    } finally {
      tpm.execute(new FlushContext(srk.handle()));
    }
  }

  @Test
  void nvReadOutOfRange() throws Exception {
    int size = tpm.execute(new io.github.keylimeattestor.tpm.command.NvReadPublic(
        Handles.NV_EK_CERT_RSA2048)).dataSize();
    ResponseCode rc = fail(new NvRead(Handles.RH_OWNER, Handles.NV_EK_CERT_RSA2048, Auth.empty(), 100, size - 10));
    assertThat(rc.name()).isEqualTo("TPM_RC_NV_RANGE");
    ResponseCode offset = fail(new NvRead(Handles.RH_OWNER, Handles.NV_EK_CERT_RSA2048, Auth.empty(), 16, size + 100));
    assertThat(offset.name()).isEqualTo("TPM_RC_VALUE");
    assertThat(offset.parameter()).isEqualTo(2);
    assertThat(offset.toString()).startsWith("TPM_RC_VALUE (parameter 2) [0x2c4]");
  }

  @Test
  void pcrNotResettableAtLocality0() {
    ResponseCode rc = fail(new PcrReset(0));
    assertThat(rc.name()).isEqualTo("TPM_RC_LOCALITY");
  }

  @Test
  void flushOfUnknownHandle() {
    ResponseCode rc = fail(new FlushContext(0x80000002));
    assertThat(rc.base()).isEqualTo(ResponseCode.HANDLE);
    assertThat(rc.parameter()).isEqualTo(1);
  }

  @Test
  void unknownCommandCode() {
    TpmCommand<Void> bogus = new TpmCommand<>() {
      @Override
      public int commandCode() {
        return 0x000001FF;
      }

      @Override
      public Void response(int[] handles, TpmReader params) {
        return null;
      }
    };
    ResponseCode rc = fail(bogus);
    assertThat(rc.name()).isEqualTo("TPM_RC_COMMAND_CODE");
  }
}
