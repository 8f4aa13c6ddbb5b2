package io.github.keylimeattestor.tpm.testing;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.TpmFormatException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** The TPM key derivation functions KDFa (SP800-108 counter mode, HMAC) and KDFe (SP800-56A). */
public final class Kdf {
  private Kdf() {}

  private static byte[] label(String label) {
    byte[] l = label.getBytes(StandardCharsets.US_ASCII);
    return Arrays.copyOf(l, l.length + 1); // the label's terminating zero is part of the input
  }

  public static byte[] kdfa(int hashAlg, byte[] key, String label, byte[] contextU, byte[] contextV,
      int bits) throws TpmFormatException {
    String name = "Hmac" + Alg.javaDigestName(hashAlg).replace("-", "");
    try {
      Mac mac = Mac.getInstance(name);
      mac.init(new SecretKeySpec(key.length == 0 ? new byte[1] : key, name));
      byte[] out = new byte[(bits + 7) / 8];
      byte[] l = label(label);
      int done = 0;
      for (int counter = 1; done < out.length; counter++) {
        if (key.length == 0) {
          throw new TpmFormatException("KDFa with an empty key");
        }
        mac.update(TpmWriterUtil.u32(counter));
        mac.update(l);
        mac.update(contextU);
        mac.update(contextV);
        mac.update(TpmWriterUtil.u32(bits));
        byte[] block = mac.doFinal();
        int n = Math.min(block.length, out.length - done);
        System.arraycopy(block, 0, out, done, n);
        done += n;
      }
      return out;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public static byte[] kdfe(int hashAlg, byte[] z, String label, byte[] partyU, byte[] partyV,
      int bits) throws TpmFormatException {
    MessageDigest md = Alg.messageDigest(hashAlg);
    byte[] out = new byte[(bits + 7) / 8];
    byte[] l = label(label);
    int done = 0;
    for (int counter = 1; done < out.length; counter++) {
      md.update(TpmWriterUtil.u32(counter));
      md.update(z);
      md.update(l);
      md.update(partyU);
      md.update(partyV);
      byte[] block = md.digest();
      int n = Math.min(block.length, out.length - done);
      System.arraycopy(block, 0, out, done, n);
      done += n;
    }
    return out;
  }

  private static final class TpmWriterUtil {
    static byte[] u32(int v) {
      return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }
  }
}
