package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.structure.PcrSelection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the server wants quoted: one bank, a set of PCRs (Keylime agents always add 16), and
 * optionally the golden values some of them may hold: for each such PCR, a list of allowed values
 * (several when a fleet runs several firmware or boot-chain versions); the quoted value must be one.
 */
public record PcrPolicy(int hashAlg, int[] pcrs, Map<Integer, List<byte[]>> expected) {
  public PcrPolicy {
    pcrs = pcrs.clone();
    TreeMap<Integer, List<byte[]>> copy = new TreeMap<>();
    expected.forEach((k, v) -> copy.put(k, v.stream().map(byte[]::clone).toList()));
    expected = Map.copyOf(copy);
    for (Map.Entry<Integer, List<byte[]>> e : expected.entrySet()) {
      if (e.getValue().isEmpty()) {
        throw new IllegalArgumentException("no allowed value for PCR " + e.getKey());
      }
    }
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
    new TreeMap<>(expected).forEach((k, v) -> b.append(' ').append(k).append('=').append(String.join("|",
        v.stream().map(HexFormat.of()::formatHex).toList())));
    return b.toString();
  }
}
