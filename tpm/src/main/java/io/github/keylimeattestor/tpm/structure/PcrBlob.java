package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The PCR values file of {@code tpm2_quote -o} that Keylime carries as the third part of its quote
 * string: a little-endian memory image of the TSS C structures TPML_PCR_SELECTION (16 banks of
 * {hash, sizeofSelect, pcrSelect[4], pad}), a UINT32 count, then that many TPML_DIGEST (8 slots of
 * {size, buffer[64]} each). Values are in selection order: bank by bank, PCR index ascending, and
 * tpm2-tools fills each TPML_DIGEST with up to 8 values.
 *
 * @param values PCR values in selection order
 */
public record PcrBlob(PcrSelection selection, List<Bytes> values) {
  private static final int SELECTION_IMAGE = 4 + PcrSelection.MAX_BANKS * 8;
  private static final int DIGEST_SLOTS = 8;
  private static final int DIGEST_IMAGE = 4 + DIGEST_SLOTS * (2 + 64);
  /** Default limit: 32 PCRs in 2 banks (8 TPML_DIGEST). */
  public static final int DEFAULT_LIMIT = SELECTION_IMAGE + 4 + 8 * DIGEST_IMAGE;

  public PcrBlob {
    values = List.copyOf(values);
    if (selection.count() != values.size()) {
      throw new IllegalArgumentException("selection has " + selection.count() + " PCRs but "
          + values.size() + " values");
    }
    if (selection.banks().size() > PcrSelection.MAX_BANKS) {
      throw new IllegalArgumentException("too many banks");
    }
  }

  /** The value of PCR {@code pcr} in bank {@code hashAlg}, or null if not in the blob. */
  public Bytes value(int hashAlg, int pcr) {
    int i = 0;
    for (PcrSelection.Bank b : selection.banks()) {
      for (int p : b.pcrs()) {
        if (b.hashAlg() == hashAlg && p == pcr) {
          return values.get(i);
        }
        i++;
      }
    }
    return null;
  }

  /**
   * The TPMS_QUOTE_INFO.pcrDigest a TPM would compute over these values: H(values concatenated in
   * selection order). Fails if a value's size does not match its bank's hash.
   */
  public byte[] digest(int hashAlg) throws TpmFormatException {
    MessageDigest md = Alg.messageDigest(hashAlg);
    int i = 0;
    for (PcrSelection.Bank b : selection.banks()) {
      int size = Alg.digestSize(b.hashAlg());
      for (int ignored : b.pcrs()) {
        Bytes v = values.get(i++);
        if (v.size() != size) {
          throw new TpmFormatException("PCR value of " + v.size() + " bytes in a bank of "
              + size + "-byte digests");
        }
        md.update(v.toByteArray());
      }
    }
    return md.digest();
  }

  public byte[] encode() {
    int lists = (values.size() + DIGEST_SLOTS - 1) / DIGEST_SLOTS;
    ByteBuffer b = ByteBuffer.allocate(SELECTION_IMAGE + 4 + lists * DIGEST_IMAGE)
        .order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(selection.banks().size());
    for (PcrSelection.Bank bank : selection.banks()) {
      byte[] sel = bank.select().toByteArray();
      b.putShort((short) bank.hashAlg()).put((byte) sel.length).put(Arrays.copyOf(sel, 4)).put((byte) 0);
    }
    b.position(SELECTION_IMAGE);
    b.putInt(lists);
    for (int l = 0; l < lists; l++) {
      int start = SELECTION_IMAGE + 4 + l * DIGEST_IMAGE;
      b.position(start);
      int n = Math.min(DIGEST_SLOTS, values.size() - l * DIGEST_SLOTS);
      b.putInt(n);
      for (int k = 0; k < n; k++) {
        Bytes v = values.get(l * DIGEST_SLOTS + k);
        b.position(start + 4 + k * 66);
        b.putShort((short) v.size()).put(v.toByteArray());
      }
    }
    return b.array();
  }

  public static PcrBlob parse(byte[] input) throws TpmFormatException {
    return parse(input, DEFAULT_LIMIT);
  }

  public static PcrBlob parse(Bytes input) throws TpmFormatException {
    return parse(input.toByteArray(), DEFAULT_LIMIT);
  }

  /**
   * Parses a blob of exactly 136 + n * 532 bytes, strictly: every byte either has a meaning or is
   * zero, so that one blob has one reading. Like Keylime, requires sizeofSelect 0 or 3. Refused:
   * a non-zero byte in a selection entry past the count, in pcrSelect past sizeofSelect or in an
   * entry's pad byte; a digest list count outside 1..8; a value whose size is not its bank's
   * digest size; a non-zero byte after a value or in a slot past the list's count; more or fewer
   * values than selected PCRs. What the rust-keylime agent (tss-esapi structures, zero-initialised,
   * values in chunks of 8) and {@code tpm2_quote -o} write passes: both leave these bytes zero.
   * (tpm2_quote asked for a bank the TPM lacks leaves that bank's select bits in an entry past
   * the count; no Keylime agent asks for one.)
   */
  public static PcrBlob parse(byte[] input, int limit) throws TpmFormatException {
    if (input == null) {
      throw new TpmFormatException("PCR blob is missing");
    }
    if (input.length > limit) {
      throw new TpmFormatException("PCR blob is " + input.length + " bytes, more than the limit of " + limit);
    }
    if (input.length < SELECTION_IMAGE + 4) {
      throw new TpmFormatException("truncated PCR blob: " + input.length + " bytes");
    }
    ByteBuffer b = ByteBuffer.wrap(input).order(ByteOrder.LITTLE_ENDIAN);
    int banks = b.getInt();
    if (banks < 0 || banks > PcrSelection.MAX_BANKS) {
      throw new TpmFormatException("PCR blob selection count " + Integer.toUnsignedString(banks) + " exceeds 16");
    }
    List<PcrSelection.Bank> list = new ArrayList<>();
    for (int i = 0; i < PcrSelection.MAX_BANKS; i++) {
      int at = b.position();
      if (i >= banks) {
        requireZero(input, at, 8, "PCR blob selection entry " + i + " (past the count of " + banks + ")");
        b.position(at + 8);
        continue;
      }
      int hash = b.getShort() & 0xFFFF;
      int size = b.get() & 0xFF;
      if (size != 0 && size != 3) {
        throw new TpmFormatException("PCR blob sizeofSelect " + size + " (Keylime accepts 0 or 3)");
      }
      byte[] sel = new byte[4];
      b.get(sel);
      requireZero(input, at + 3 + size, 4 - size + 1, "PCR blob selection entry " + i + " past sizeofSelect");
      b.get();
      Alg.digestSize(hash);
      list.add(new PcrSelection.Bank(hash, Arrays.copyOf(sel, size)));
    }
    PcrSelection selection = new PcrSelection(list);
    int lists = b.getInt();
    long expected = SELECTION_IMAGE + 4 + (lists & 0xFFFFFFFFL) * DIGEST_IMAGE;
    if (expected != input.length) {
      throw new TpmFormatException("PCR blob with " + Integer.toUnsignedString(lists)
          + " digest lists must be " + expected + " bytes, is " + input.length);
    }
    List<Integer> sizes = new ArrayList<>();
    for (PcrSelection.Bank bank : selection.banks()) {
      int size = Alg.digestSize(bank.hashAlg());
      for (int ignored : bank.pcrs()) {
        sizes.add(size);
      }
    }
    List<Bytes> values = new ArrayList<>();
    for (int l = 0; l < lists; l++) {
      int start = SELECTION_IMAGE + 4 + l * DIGEST_IMAGE;
      b.position(start);
      int n = b.getInt();
      if (n < 1 || n > DIGEST_SLOTS) {
        throw new TpmFormatException("TPML_DIGEST count " + Integer.toUnsignedString(n) + " is not 1 to 8");
      }
      for (int k = 0; k < DIGEST_SLOTS; k++) {
        int slot = start + 4 + k * 66;
        String where = "PCR blob digest list " + l + " slot " + k;
        if (k >= n) {
          requireZero(input, slot, 66, where + " (past the count of " + n + ")");
          continue;
        }
        if (values.size() == sizes.size()) {
          throw new TpmFormatException("PCR blob holds more values than the " + sizes.size() + " selected PCRs");
        }
        b.position(slot);
        int size = b.getShort() & 0xFFFF;
        int want = sizes.get(values.size());
        if (size != want) {
          throw new TpmFormatException(where + " holds a " + size + "-byte value for a bank of " + want
              + "-byte digests");
        }
        byte[] v = new byte[size];
        b.get(v);
        requireZero(input, slot + 2 + size, 64 - size, where + " after its value");
        values.add(Bytes.copyFrom(v));
      }
    }
    if (values.size() != selection.count()) {
      throw new TpmFormatException("PCR blob holds " + values.size() + " values for "
          + selection.count() + " selected PCRs");
    }
    return new PcrBlob(selection, values);
  }

  private static void requireZero(byte[] input, int from, int length, String where) throws TpmFormatException {
    for (int i = from; i < from + length; i++) {
      if (input[i] != 0) {
        throw new TpmFormatException(where + ": byte " + i + " is 0x"
            + String.format("%02x", input[i] & 0xFF) + " where only 0 has a meaning");
      }
    }
  }
}
