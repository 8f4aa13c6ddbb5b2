package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.ArrayList;
import java.util.List;

/** TPM2_PCR_Read: the TPM returns at most 8 values and says which in {@code selectionOut}. */
public record PcrRead(PcrSelection selection) implements TpmCommand<PcrRead.Response> {
  public record Response(int updateCounter, PcrSelection selectionOut, List<Bytes> values) {}

  @Override
  public int commandCode() {
    return CommandCode.PCR_READ;
  }

  @Override
  public void parameters(TpmWriter w) {
    selection.marshal(w);
  }

  @Override
  public Response response(int[] h, TpmReader p) throws TpmFormatException {
    int counter = p.u32("pcrUpdateCounter");
    PcrSelection out = PcrSelection.parse(p);
    int n = p.u32("pcrValues.count");
    if (n < 0 || n > 8) {
      throw new TpmFormatException("TPML_DIGEST count " + Integer.toUnsignedString(n) + " exceeds 8");
    }
    List<Bytes> values = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      values.add(p.tpm2bValue(64, "PCR value"));
    }
    if (out.count() != n) {
      throw new TpmFormatException("PCR_Read returned " + n + " values for " + out.count() + " PCRs");
    }
    return new Response(counter, out, List.copyOf(values));
  }
}
