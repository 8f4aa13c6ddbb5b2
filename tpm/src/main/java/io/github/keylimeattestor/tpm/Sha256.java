package io.github.keylimeattestor.tpm;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 of the concatenation of some byte strings: the one helper every module uses. */
public final class Sha256 {
  private Sha256() {}

  public static byte[] digest(byte[]... parts) {
    MessageDigest d;
    try {
      d = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 missing from the JDK", e);
    }
    for (byte[] p : parts) {
      d.update(p);
    }
    return d.digest();
  }

  /** Lower-case hex of {@link #digest}. */
  public static String hex(byte[]... parts) {
    return HexFormat.of().formatHex(digest(parts));
  }
}
