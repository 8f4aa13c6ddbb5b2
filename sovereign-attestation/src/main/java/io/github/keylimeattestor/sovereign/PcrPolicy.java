package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the server wants quoted: one bank, a set of PCRs (Keylime agents always add 16), and
 * optionally the golden values some of them may hold: for each such PCR, a list of allowed values
 * (several when a fleet runs several firmware or boot-chain versions); the quoted value must be one.
 * Immutable.
 */
public record PcrPolicy(int hashAlg, List<Integer> pcrs, Map<Integer, List<Bytes>> expected) {
  public PcrPolicy {
    pcrs = List.copyOf(pcrs);
    TreeMap<Integer, List<Bytes>> copy = new TreeMap<>();
    expected.forEach((k, v) -> copy.put(k, List.copyOf(v)));
    expected = Map.copyOf(copy);
    for (Map.Entry<Integer, List<Bytes>> e : expected.entrySet()) {
      if (e.getValue().isEmpty()) {
        throw new IllegalArgumentException("no allowed value for PCR " + e.getKey());
      }
    }
    for (Integer pcr : expected.keySet()) {
      if (!pcrs.contains(pcr)) {
        throw new IllegalArgumentException("expected value for PCR " + pcr + " which is not in the quoted selection");
      }
    }
  }

  /** The same from arrays (copied). */
  public PcrPolicy(int hashAlg, int[] pcrs, Map<Integer, List<byte[]>> expected) {
    this(hashAlg, java.util.Arrays.stream(pcrs).boxed().toList(), bytes(expected));
  }

  private static Map<Integer, List<Bytes>> bytes(Map<Integer, List<byte[]>> expected) {
    Map<Integer, List<Bytes>> m = new TreeMap<>();
    expected.forEach((k, v) -> m.put(k, v.stream().map(Bytes::copyFrom).toList()));
    return m;
  }

  public PcrSelection selection() {
    return PcrSelection.of(hashAlg, pcrs.stream().mapToInt(Integer::intValue).toArray());
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder(WireFormat.hashAlgName(hashAlg)).append(pcrs);
    new TreeMap<>(expected).forEach((k, v) -> b.append(' ').append(k).append('=').append(String.join("|",
        v.stream().map(Bytes::toHex).toList())));
    return b.toString();
  }
}
