package io.github.keylimeattestor.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.tpm.transport.TabrmdTransport;
import io.github.keylimeattestor.tpm.transport.Tcti;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** TPM2TOOLS_TCTI strings: what each one selects, and what is refused with which note. */
class TctiTest {
  @Test
  void acceptedStrings() {
    String[][] table = {
        {"device:/dev/tpmrm0", "device:/dev/tpmrm0"},
        {"device:/dev/tpm0", "device:/dev/tpm0"},
        {"tabrmd", "tabrmd:bus_name=com.intel.tss2.Tabrmd,bus_type=system"},
        {"tabrmd:", "tabrmd:bus_name=com.intel.tss2.Tabrmd,bus_type=system"},
        {"tabrmd:bus_type=session", "tabrmd:bus_name=com.intel.tss2.Tabrmd,bus_type=session"},
        {"tabrmd:bus_name=com.intel.tss2.Tabrmd,bus_type=system",
            "tabrmd:bus_name=com.intel.tss2.Tabrmd,bus_type=system"},
        {"tabrmd:bus_name=org.example.Other", "tabrmd:bus_name=org.example.Other,bus_type=system"},
        {"swtpm:host=127.0.0.1,port=2321", "swtpm:host=127.0.0.1,port=2321"},
        {"swtpm:port=4000", "swtpm:host=localhost,port=4000"},
        {"mssim:host=::1,port=2321", "swtpm:host=::1,port=2321"},
        {"swtpm", "swtpm:host=localhost,port=2321"},
    };
    for (String[] row : table) {
      assertThat(Tcti.parse(row[0])).as(row[0]).hasToString(row[1]);
    }
    // a bare "device", as tpm2-tss's device TCTI: the resource manager's device first, then the raw one
    assertThat(Tcti.parse("device", p -> p.equals(Path.of("/dev/tpmrm0")))).hasToString("device:/dev/tpmrm0");
    assertThat(Tcti.parse("device:", p -> true)).hasToString("device:/dev/tpmrm0");
    assertThat(Tcti.parse("device", p -> false)).hasToString("device:/dev/tpm0");
    assertThat(Tcti.parse("tabrmd:bus_type=session")).isEqualTo(
        new Tcti.Spec.Tabrmd(TabrmdTransport.DEFAULT_BUS_NAME, TabrmdTransport.BusType.SESSION));
  }

  @Test
  void onlyTheRawDeviceWarns() {
    assertThat(Tcti.parse("device:/dev/tpm0").warning()).get().asString()
        .contains("/dev/tpm0 is the raw TPM device").contains("tpm2-abrmd").contains("device:/dev/tpmrm0")
        .isEqualTo("/dev/tpm0 is the raw TPM device: only one process can hold it open (tpm2-abrmd, if it runs, "
            + "already does) and no resource manager swaps other clients' objects out. Prefer "
            + "\"device:/dev/tpmrm0\" or \"tabrmd\"");
    assertThat(Tcti.parse("device", p -> false).warning()).isPresent();
    assertThat(Tcti.parse("device", p -> true).warning()).isEmpty();
    assertThat(Tcti.parse("device:/dev/tpmrm0").warning()).isEmpty();
    assertThat(Tcti.parse("tabrmd").warning()).isEmpty();
    assertThat(Tcti.parse("swtpm:port=2321").warning()).isEmpty();
  }

  @Test
  void refusedStrings() {
    String[][] table = {
        {"tpmrm0", "unknown TCTI \"tpmrm0\""},
        {"/dev/tpmrm0", "unknown TCTI \"/dev/tpmrm0\""},
        {"libtss2-tcti-device.so.0:/dev/tpm0", "unknown TCTI"},
        {"device:dev/tpm0", "absolute path"},
        {"tabrmd:bus_type=user", "bus_type must be system or session"},
        {"tabrmd:bus_type", "expected bus_name=..,bus_type=.."},
        {"tabrmd:bus_type=session,bus_type=system", "expected bus_name"},
        {"tabrmd:host=x", "expected bus_name"},
        {"swtpm:host=127.0.0.1,port=x", "host=H,port=P"},
        {"swtpm:port=65535", "host=H,port=P"},
        {"swtpm:127.0.0.1:2321", "expected host=..,port=.."},
    };
    for (String[] row : table) {
      assertThatThrownBy(() -> Tcti.parse(row[0])).as(row[0]).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(row[1]).hasMessageContaining("use device:/dev/tpmrm0, tabrmd");
    }
  }

  @Test
  void openReportsBadStringsAndMissingTpmsAsIoErrors() {
    assertThatThrownBy(() -> Tcti.open("bogus", 1000)).isInstanceOf(IOException.class)
        .hasMessageContaining("unknown TCTI \"bogus\"");
    assertThatThrownBy(() -> Tcti.open("device:/nonexistent/tpmrm0", 1000)).isInstanceOf(IOException.class);
    // no daemon owns this name on the system bus (or there is no system bus): a clear IOException
    assertThatThrownBy(() -> Tcti.open("tabrmd:bus_name=org.example.NoSuchTabrmd", 2000))
        .isInstanceOf(IOException.class).hasMessageContaining("tpm2-abrmd org.example.NoSuchTabrmd on the system bus");
  }

  @Test
  void defaultIsTpmrm0ThenTabrmdElseAnErrorSayingWhatToSet() throws IOException {
    if (Files.exists(Path.of("/dev/tpmrm0"))) {
      assertThat(Tcti.defaultSpec()).isEqualTo("device:/dev/tpmrm0");
    } else if (TabrmdTransport.nameHasOwner(TabrmdTransport.DEFAULT_BUS_NAME, TabrmdTransport.BusType.SYSTEM, 2000)) {
      assertThat(Tcti.defaultSpec()).isEqualTo("tabrmd");
    } else {
      assertThatThrownBy(Tcti::defaultSpec).isInstanceOf(IOException.class)
          .hasMessageContaining("/dev/tpmrm0 does not exist").hasMessageContaining("tpm2-abrmd")
          .hasMessageContaining("swtpm:host=");
    }
  }
}
