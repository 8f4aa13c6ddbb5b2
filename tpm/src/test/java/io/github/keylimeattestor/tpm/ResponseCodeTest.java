package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ResponseCodeTest {
  @Test
  void formatOneWithHandleParameterSession() {
    ResponseCode h = ResponseCode.decode(0x18B);
    assertThat(h.name()).isEqualTo("TPM_RC_HANDLE");
    assertThat(h.handle()).isEqualTo(1);
    assertThat(h.parameter()).isZero();
    assertThat(h.session()).isZero();

    ResponseCode p = ResponseCode.decode(0x1C4);
    assertThat(p.name()).isEqualTo("TPM_RC_VALUE");
    assertThat(p.parameter()).isEqualTo(1);
    assertThat(p.toString()).isEqualTo("TPM_RC_VALUE (parameter 1) [0x1c4]: value is out of range or is not correct for the context");

    ResponseCode s = ResponseCode.decode(0x98E);
    assertThat(s.name()).isEqualTo("TPM_RC_AUTH_FAIL");
    assertThat(s.session()).isEqualTo(1);
    assertThat(s.base()).isEqualTo(0x08E);

    ResponseCode p15 = ResponseCode.decode(0xFD5);
    assertThat(p15.name()).isEqualTo("TPM_RC_SIZE");
    assertThat(p15.parameter()).isEqualTo(15);

    ResponseCode s7 = ResponseCode.decode(0xFA2);
    assertThat(s7.name()).isEqualTo("TPM_RC_BAD_AUTH");
    assertThat(s7.session()).isEqualTo(7);

    ResponseCode h7 = ResponseCode.decode(0x79C);
    assertThat(h7.name()).isEqualTo("TPM_RC_KEY");
    assertThat(h7.handle()).isEqualTo(7);
  }

  @Test
  void formatZeroErrorsAndWarnings() {
    assertThat(ResponseCode.decode(0x100).name()).isEqualTo("TPM_RC_INITIALIZE");
    assertThat(ResponseCode.decode(0x101).name()).isEqualTo("TPM_RC_FAILURE");
    assertThat(ResponseCode.decode(0x12F).name()).isEqualTo("TPM_RC_AUTH_UNAVAILABLE");
    assertThat(ResponseCode.decode(0x14C).name()).isEqualTo("TPM_RC_NV_DEFINED");
    ResponseCode w = ResponseCode.decode(0x902);
    assertThat(w.name()).isEqualTo("TPM_RC_OBJECT_MEMORY");
    assertThat(w.isWarning()).isTrue();
    assertThat(ResponseCode.decode(0x922).name()).isEqualTo("TPM_RC_RETRY");
    assertThat(ResponseCode.decode(0x921).name()).isEqualTo("TPM_RC_LOCKOUT");
    assertThat(ResponseCode.decode(0x911).name()).isEqualTo("TPM_RC_REFERENCE_H1");
    assertThat(ResponseCode.decode(0x918).name()).isEqualTo("TPM_RC_REFERENCE_S0");
    assertThat(ResponseCode.decode(0x08B).isWarning()).isFalse();
  }

  @Test
  void successOtherFamiliesAndUnknown() {
    assertThat(ResponseCode.decode(0).name()).isEqualTo("TPM_RC_SUCCESS");
    assertThat(ResponseCode.decode(0x1E).name()).startsWith("TPM 1.2");
    assertThat(ResponseCode.decode(0x500).name()).startsWith("vendor");
    assertThat(ResponseCode.decode(0x17F).name()).startsWith("unknown");
    assertThat(ResponseCode.decode(0x7000902).name()).startsWith("unknown");
  }

  @Test
  void exceptionMessageNamesCommandAndCode() {
    TpmResponseException e = new TpmResponseException(CommandCode.LOAD, ResponseCode.decode(0x1DF));
    assertThat(e.getMessage()).isEqualTo("TPM2_Load failed: TPM_RC_INTEGRITY (parameter 1) [0x1df]: "
        + "integrity check failed (the key blob does not belong to this parent or this TPM)");
    assertThat(e.rc()).isEqualTo(0x1DF);
  }

  /**
   * tpm2-abrmd hands its own failures and its TCTI's to the client as the response code (layers 11
   * and 10, TSS2_BASE_RC_* below them): neither is the TPM's answer, nor a TPM 1.2 code.
   */
  @Test
  void tpm2AbrmdsOwnAndItsTctisFailuresAreNotTpmCodes() {
    ResponseCode tcti = ResponseCode.decode(0x000A000A);
    assertThat(tcti.name()).isEqualTo("TSS2_BASE_RC_IO_ERROR");
    assertThat(tcti.description()).contains("TCTI").contains("not the TPM's answer");
    assertThat(tcti.fromSoftwareStack()).isTrue();
    ResponseCode rm = ResponseCode.decode(0x000B0001);
    assertThat(rm.name()).isEqualTo("TSS2_BASE_RC_GENERAL_FAILURE");
    assertThat(rm.fromSoftwareStack()).isTrue();
    assertThat(ResponseCode.decode(0x000B00FF).name()).isEqualTo("TSS2_BASE_RC 255");
    // tpm2-abrmd's per-connection object limit keeps the TPM's code, and its retry
    ResponseCode limit = ResponseCode.decode(0x000B0902);
    assertThat(limit.name()).isEqualTo("TPM_RC_OBJECT_MEMORY");
    assertThat(limit.fromSoftwareStack()).isFalse();
    assertThat(ResponseCode.decode(0x000C018B).fromSoftwareStack()).as("a TPM code passed on").isFalse();
    assertThat(ResponseCode.decode(0x18B).fromSoftwareStack()).isFalse();
  }
}
