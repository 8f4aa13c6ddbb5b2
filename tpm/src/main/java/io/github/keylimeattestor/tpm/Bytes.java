package io.github.keylimeattestor.tpm;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * An immutable byte string: copied in, copied out, equal by value (as Tink's {@code Bytes}).
 *
 * <p>Use it in records and other values instead of {@code byte[]}, whose {@code equals} compares
 * identity and whose contents any holder can change.
 */
public final class Bytes {
  private static final Bytes EMPTY = new Bytes(new byte[0]);

  private final byte[] data;

  private Bytes(byte[] data) {
    this.data = data;
  }

  /** A copy of {@code data}; later changes to the array do not reach the value. */
  public static Bytes copyFrom(byte[] data) {
    return data.length == 0 ? EMPTY : new Bytes(data.clone());
  }

  /** A copy of {@code length} bytes of {@code data} from {@code offset}. */
  public static Bytes copyFrom(byte[] data, int offset, int length) {
    return length == 0 ? EMPTY : new Bytes(Arrays.copyOfRange(data, offset, offset + length));
  }

  /** The value of a hex string (either case). */
  public static Bytes fromHex(String hex) {
    return copyFrom(HexFormat.of().parseHex(hex));
  }

  public static Bytes empty() {
    return EMPTY;
  }

  /** A fresh copy of the bytes. */
  public byte[] toByteArray() {
    return data.clone();
  }

  public int size() {
    return data.length;
  }

  public boolean isEmpty() {
    return data.length == 0;
  }

  public byte byteAt(int index) {
    return data[index];
  }

  /** Lower-case hex. */
  public String toHex() {
    return HexFormat.of().formatHex(data);
  }

  /** Compares in time that does not depend on where the values differ (for MACs, digests, nonces). */
  public boolean constantTimeEquals(Bytes other) {
    return MessageDigest.isEqual(data, other.data);
  }

  /** Compares in time that does not depend on where the values differ. */
  public boolean constantTimeEquals(byte[] other) {
    return MessageDigest.isEqual(data, other);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Bytes other && Arrays.equals(data, other.data);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(data);
  }

  /** Hex, shortened past 32 bytes: safe to log for the public values this type holds. */
  @Override
  public String toString() {
    if (data.length <= 32) {
      return "Bytes(" + toHex() + ")";
    }
    return "Bytes(" + HexFormat.of().formatHex(data, 0, 32) + "..., " + data.length + " bytes)";
  }
}
