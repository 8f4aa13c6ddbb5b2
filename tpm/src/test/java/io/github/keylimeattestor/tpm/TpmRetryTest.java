package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Which TPM answers are worth waiting for, what the operator is told, and the budget. */
class TpmRetryTest {
  private static TpmResponseException answer(int rc) {
    return new TpmResponseException(CommandCode.LOAD, ResponseCode.decode(rc));
  }

  @Test
  void transientConditionsAndTheirExplanations() {
    Object[][] table = {
        {0x902, "transient object slots are all in use"},
        {0x903, "session slots are all in use"},
        {0x904, "ran out of memory"},
        {0x905, "out of session handles"},
        {0x922, "could not start the command"},
        {0x908, "suspended the command"},
        {0x90A, "self-tests"},
        {0x909, "canceled"},
        {0x920, "rate-limiting NV"},
        {0x923, "NV memory is not accessible"},
    };
    for (Object[] row : table) {
      ResponseCode rc = ResponseCode.decode((Integer) row[0]);
      assertThat(TpmRetry.isTransient(rc)).as(rc.name()).isTrue();
      assertThat(TpmRetry.explain(rc)).as(rc.name()).get().asString().contains((String) row[1]);
    }
    assertThat(TpmRetry.explain(ResponseCode.decode(0x902)).orElseThrow()).contains("Keylime agent")
        .contains("tpm2_getcap handles-transient").contains("/dev/tpmrm0").contains("tpm2-abrmd");
  }

  @Test
  void errorsAndLastingWarningsAreNotRetried() {
    // TPM_RC_HANDLE, TPM_RC_INTEGRITY (parameter 1), TPM_RC_BAD_AUTH, TPM_RC_LOCKOUT (a warning that lasts),
    // TPM_RC_REFERENCE_H0, TPM_RC_OBJECT_HANDLES (needs a reboot), TPM_RC_FAILURE
    for (int rc : new int[] {0x18B, 0x1DF, 0x9A2, 0x921, 0x910, 0x906, 0x101}) {
      assertThat(TpmRetry.isTransient(ResponseCode.decode(rc))).as("0x%x", rc).isFalse();
      assertThat(TpmRetry.explain(ResponseCode.decode(rc))).as("0x%x", rc).isEmpty();
    }
  }

  @Test
  void tpm2AbrmdsOwnPerConnectionLimitIsNamedAsSuch() {
    ResponseCode rc = ResponseCode.decode(0x000B0902); // TSS2_RESMGR_RC_OBJECT_MEMORY
    assertThat(rc.name()).isEqualTo("TPM_RC_OBJECT_MEMORY");
    assertThat(rc.description()).contains("from tpm2-abrmd, not from the TPM");
    assertThat(rc.base()).isEqualTo(ResponseCode.OBJECT_MEMORY);
    assertThat(TpmRetry.explain(rc)).get().asString().contains("--max-transients")
        .isEqualTo("tpm2-abrmd refused because this connection reached its per-connection limit "
            + "(tpm2-abrmd --max-transients / --max-sessions)");
    ResponseCode passedOn = ResponseCode.decode(0x000C0902);
    assertThat(passedOn.description()).contains("via tpm2-abrmd");
    assertThat(TpmRetry.explain(passedOn)).get().asString().contains("transient object slots");
  }

  @Test
  void triesStopWhenTheBudgetIsSpentAndNeverForErrors() throws Exception {
    TpmRetry spent = new TpmRetry(Duration.ZERO);
    assertThat(spent.again(answer(0x902))).isFalse();
    assertThat(spent.tries()).isEqualTo(1);

    TpmRetry retry = new TpmRetry(Duration.ofMinutes(1));
    assertThat(retry.again(answer(0x1DF))).isFalse();
    assertThat(retry.again(answer(0x902))).isTrue();
    assertThat(retry.again(answer(0x922))).isTrue();
    assertThat(retry.tries()).isEqualTo(3);
  }
}
