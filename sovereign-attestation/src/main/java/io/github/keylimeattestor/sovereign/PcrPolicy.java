package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.structure.PcrSelection;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the server wants quoted: one bank, a set of PCRs (Keylime agents always add 16), and
 * optionally the exact values some of them must hold.
 */
public record PcrPolicy(int hashAlg, int[] pcrs, Map<Integer, byte[]> expected) {
  public PcrPolicy {
    pcrs = pcrs.clone();
    expected = Map.copyOf(new TreeMap<>(expected));
    for (Integer pcr : expected.keySet()) {
      if (java.util.Arrays.stream(pcrs).noneMatch(p -> p == pcr)) {
        throw new IllegalArgumentException("expected value for PCR " + pcr + " which is not in the quoted selection");
      }
    }
  }

  @Override
  public int[] pcrs() {
    return pcrs.clone();
  }

  public PcrSelection selection() {
    return PcrSelection.of(hashAlg, pcrs);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder(WireFormat.hashAlgName(hashAlg)).append(java.util.Arrays.toString(pcrs));
    expected.forEach((k, v) -> b.append(' ').append(k).append('=').append(HexFormat.of().formatHex(v)));
    return b.toString();
  }
}
