package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.TpmFormatException;
import java.util.Arrays;

/**
 * Big-endian reader over a bounded byte range. Every length read from the input is checked
 * against the bytes that remain before anything is allocated, so a hostile size field can never
 * make it allocate more than the input it was given.
 */
public final class TpmReader {
  private final byte[] buf;
  private int pos;
  private final int end;

  public TpmReader(byte[] buf) {
    this(buf, 0, buf.length);
  }

  public TpmReader(byte[] buf, int offset, int length) {
    if (offset < 0 || length < 0 || offset + length > buf.length) {
      throw new IndexOutOfBoundsException();
    }
    this.buf = buf;
    this.pos = offset;
    this.end = offset + length;
  }

  /** Checks the overall input size against a caller-given limit before parsing starts. */
  public static TpmReader bounded(byte[] input, int limit, String what) throws TpmFormatException {
    if (input == null) {
      throw new TpmFormatException(what + " is missing");
    }
    if (input.length > limit) {
      throw new TpmFormatException(what + " is " + input.length + " bytes, more than the limit of " + limit);
    }
    return new TpmReader(input);
  }

  public int remaining() {
    return end - pos;
  }

  public int position() {
    return pos;
  }

  private void need(int n, String what) throws TpmFormatException {
    if (n < 0 || n > end - pos) {
      throw new TpmFormatException("truncated input: " + what + " needs " + n + " bytes, "
          + (end - pos) + " left");
    }
  }

  public int u8(String what) throws TpmFormatException {
    need(1, what);
    return buf[pos++] & 0xFF;
  }

  public int u16(String what) throws TpmFormatException {
    need(2, what);
    int v = ((buf[pos] & 0xFF) << 8) | (buf[pos + 1] & 0xFF);
    pos += 2;
    return v;
  }

  public int u32(String what) throws TpmFormatException {
    need(4, what);
    int v = ((buf[pos] & 0xFF) << 24) | ((buf[pos + 1] & 0xFF) << 16)
        | ((buf[pos + 2] & 0xFF) << 8) | (buf[pos + 3] & 0xFF);
    pos += 4;
    return v;
  }

  public long u64(String what) throws TpmFormatException {
    long hi = u32(what) & 0xFFFFFFFFL;
    long lo = u32(what) & 0xFFFFFFFFL;
    return (hi << 32) | lo;
  }

  public byte[] bytes(int n, String what) throws TpmFormatException {
    need(n, what);
    byte[] out = Arrays.copyOfRange(buf, pos, pos + n);
    pos += n;
    return out;
  }

  /** A TPM2B: UINT16 size then that many bytes; {@code max} is the structure's own maximum. */
  public byte[] tpm2b(int max, String what) throws TpmFormatException {
    int size = u16(what + " size");
    if (size > max) {
      throw new TpmFormatException(what + " is " + size + " bytes, more than the maximum " + max);
    }
    return bytes(size, what);
  }

  /** {@link #tpm2b} as an immutable value. */
  public Bytes tpm2bValue(int max, String what) throws TpmFormatException {
    int size = u16(what + " size");
    if (size > max) {
      throw new TpmFormatException(what + " is " + size + " bytes, more than the maximum " + max);
    }
    need(size, what);
    Bytes out = Bytes.copyFrom(buf, pos, size);
    pos += size;
    return out;
  }

  /** A sub-reader over the next {@code n} bytes; this reader skips them. */
  public TpmReader sub(int n, String what) throws TpmFormatException {
    need(n, what);
    TpmReader r = new TpmReader(buf, pos, n);
    pos += n;
    return r;
  }

  /** A sub-reader over a TPM2B's contents (e.g. TPM2B_PUBLIC around TPMT_PUBLIC). */
  public TpmReader sized(String what) throws TpmFormatException {
    return sub(u16(what + " size"), what);
  }

  /** Bytes consumed so far, from {@code from} to the current position. */
  public byte[] slice(int from) {
    return Arrays.copyOfRange(buf, from, pos);
  }

  public void expectEnd(String what) throws TpmFormatException {
    if (pos != end) {
      throw new TpmFormatException(what + " has " + (end - pos) + " trailing bytes");
    }
  }
}
