package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import java.util.ArrayList;
import java.util.List;

/** TPML_PCR_SELECTION: a list of banks, each a hash algorithm and a PCR bitmap. */
public record PcrSelection(List<Bank> banks) {
  /** At most this many banks (TPM2_NUM_PCR_BANKS in the TSS headers). */
  public static final int MAX_BANKS = 16;
  /** At most this many bitmap bytes per bank (TPM2_PCR_SELECT_MAX: 32 PCRs). */
  public static final int MAX_SELECT = 4;

  /**
   * TPMS_PCR_SELECTION. PCR n is bit (n mod 8) of byte n/8.
   *
   * @param select the bitmap; its length is sizeofSelect
   */
  public record Bank(int hashAlg, Bytes select) {
    public Bank(int hashAlg, byte[] select) {
      this(hashAlg, Bytes.copyFrom(select));
    }

    /** Selected PCR indices, ascending. */
    public List<Integer> pcrs() {
      List<Integer> out = new ArrayList<>();
      for (int i = 0; i < select.size() * 8; i++) {
        if ((select.byteAt(i / 8) & (1 << (i % 8))) != 0) {
          out.add(i);
        }
      }
      return out;
    }

    public boolean contains(int pcr) {
      return pcr >= 0 && pcr / 8 < select.size() && (select.byteAt(pcr / 8) & (1 << (pcr % 8))) != 0;
    }

    @Override
    public String toString() {
      String name = io.github.keylimeattestor.tpm.Alg.keylimeHashName(hashAlg);
      return (name != null ? name : String.format("0x%04x", hashAlg)) + ":" + pcrs();
    }
  }

  public PcrSelection {
    banks = List.copyOf(banks);
  }

  /** One bank with the given PCRs, sizeofSelect 3 (PCRs 0-23) as tpm2-tools and Keylime use. */
  public static PcrSelection of(int hashAlg, int... pcrs) {
    int size = 3;
    for (int p : pcrs) {
      if (p < 0 || p >= MAX_SELECT * 8) {
        throw new IllegalArgumentException("PCR index out of range: " + p);
      }
      size = Math.max(size, p / 8 + 1);
    }
    byte[] sel = new byte[size];
    for (int p : pcrs) {
      sel[p / 8] |= (byte) (1 << (p % 8));
    }
    return new PcrSelection(List.of(new Bank(hashAlg, sel)));
  }

  public static PcrSelection empty() {
    return new PcrSelection(List.of());
  }

  /** Number of PCRs selected over all banks. */
  public int count() {
    int n = 0;
    for (Bank b : banks) {
      n += b.pcrs().size();
    }
    return n;
  }

  public boolean isEmpty() {
    return count() == 0;
  }

  public void marshal(TpmWriter w) {
    w.u32(banks.size());
    for (Bank b : banks) {
      w.u16(b.hashAlg).u8(b.select.size()).bytes(b.select.toByteArray());
    }
  }

  public byte[] marshal() {
    TpmWriter w = new TpmWriter();
    marshal(w);
    return w.toByteArray();
  }

  public static PcrSelection parse(TpmReader r) throws TpmFormatException {
    int count = r.u32("TPML_PCR_SELECTION.count");
    if (count < 0 || count > MAX_BANKS) {
      throw new TpmFormatException("TPML_PCR_SELECTION count " + Integer.toUnsignedString(count)
          + " exceeds " + MAX_BANKS);
    }
    List<Bank> banks = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int hash = r.u16("TPMS_PCR_SELECTION.hash");
      int size = r.u8("sizeofSelect");
      if (size > MAX_SELECT) {
        throw new TpmFormatException("sizeofSelect " + size + " exceeds " + MAX_SELECT);
      }
      banks.add(new Bank(hash, r.bytes(size, "pcrSelect")));
    }
    return new PcrSelection(banks);
  }

  public static PcrSelection parse(byte[] input, int limit) throws TpmFormatException {
    TpmReader r = TpmReader.bounded(input, limit, "TPML_PCR_SELECTION");
    PcrSelection s = parse(r);
    r.expectEnd("TPML_PCR_SELECTION");
    return s;
  }

  /** True if every PCR selected in {@code other} is selected here too, in the same bank. */
  public boolean covers(PcrSelection other) {
    for (Bank ob : other.banks) {
      for (int pcr : ob.pcrs()) {
        boolean found = false;
        for (Bank b : banks) {
          if (b.hashAlg == ob.hashAlg && b.contains(pcr)) {
            found = true;
            break;
          }
        }
        if (!found) {
          return false;
        }
      }
    }
    return true;
  }

  @Override
  public String toString() {
    return banks.toString();
  }
}
