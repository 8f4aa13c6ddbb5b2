package io.github.keylimeattestor.tpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BytesTest {
  @Test
  void changesToTheSourceOrTheCopyDoNotReachTheValue() {
    byte[] source = {1, 2, 3};
    Bytes value = Bytes.copyFrom(source);
    source[0] = 9;
    byte[] out = value.toByteArray();
    out[1] = 9;
    assertArrayEquals(new byte[] {1, 2, 3}, value.toByteArray());
  }

  @Test
  void equalByValue() {
    assertEquals(Bytes.copyFrom(new byte[] {1, 2}), Bytes.fromHex("0102"));
    assertEquals(Bytes.copyFrom(new byte[] {1, 2}).hashCode(), Bytes.fromHex("0102").hashCode());
    assertNotEquals(Bytes.fromHex("0102"), Bytes.fromHex("0103"));
    assertEquals(Bytes.empty(), Bytes.copyFrom(new byte[0]));
    assertEquals(Bytes.fromHex("0203"), Bytes.copyFrom(new byte[] {1, 2, 3, 4}, 1, 2));
  }

  @Test
  void recordsHoldingBytesCompareByValue() {
    record Holder(Bytes b) {}
    assertEquals(new Holder(Bytes.fromHex("aa")), new Holder(Bytes.copyFrom(new byte[] {(byte) 0xaa})));
  }

  @Test
  void constantTimeEqualsAndHex() {
    assertTrue(Bytes.fromHex("ABcd").constantTimeEquals(new byte[] {(byte) 0xab, (byte) 0xcd}));
    assertFalse(Bytes.fromHex("abcd").constantTimeEquals(Bytes.fromHex("abce")));
    assertEquals("abcd", Bytes.fromHex("ABCD").toHex());
    assertTrue(Bytes.copyFrom(new byte[64]).toString().endsWith("64 bytes)"));
  }
}
