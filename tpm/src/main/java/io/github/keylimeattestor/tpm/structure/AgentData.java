package io.github.keylimeattestor.tpm.structure;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.PemText;
import io.github.keylimeattestor.tpm.TpmFormatException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * rust-keylime's {@code agent_data.json}: the agent's AK as a marshalled TPMT_PUBLIC and the
 * contents of its TPM2B_PRIVATE, the AK's hash and signing algorithms (serde enum names such as
 * "Sha256", "RsaSsa"), and the EK hash (ASCII of the lowercase hex SHA-256 of the EK's PEM).
 */
public record AgentData(String akHashAlg, String akSignAlg, byte[] akPublic, byte[] akPrivate,
    byte[] ekHash) {
  public static final int DEFAULT_LIMIT = 64 * 1024;

  public AgentData {
    akPublic = akPublic.clone();
    akPrivate = akPrivate.clone();
    ekHash = ekHash.clone();
  }

  @Override
  public byte[] akPublic() {
    return akPublic.clone();
  }

  @Override
  public byte[] akPrivate() {
    return akPrivate.clone();
  }

  @Override
  public byte[] ekHash() {
    return ekHash.clone();
  }

  /** Builds the record for an AK blob, deriving the algorithm names from its public area. */
  public static AgentData of(KeyBlob ak, PublicKey ek) throws TpmFormatException {
    TpmPublic pub = ak.publicArea();
    int hash = pub.scheme().scheme() != Alg.NULL ? pub.scheme().hashAlg() : pub.nameAlg();
    return new AgentData(hashName(hash), signName(pub.scheme().scheme()), pub.marshal(),
        ak.privateBlob(), ekHash(ek).getBytes(StandardCharsets.US_ASCII));
  }

  /** The AK as a loadable blob. */
  public KeyBlob akBlob() throws TpmFormatException {
    return new KeyBlob(TpmPublic.parse(akPublic), akPrivate);
  }

  /** TPM hash algorithm of {@link #akHashAlg}. */
  public int akHashAlgId() throws TpmFormatException {
    switch (akHashAlg) {
      case "Sha1": return Alg.SHA1;
      case "Sha256": return Alg.SHA256;
      case "Sha384": return Alg.SHA384;
      case "Sha512": return Alg.SHA512;
      case "Sm3_256": return Alg.SM3_256;
      default: throw new TpmFormatException("unknown ak_hash_alg " + akHashAlg);
    }
  }

  static String hashName(int alg) throws TpmFormatException {
    switch (alg) {
      case Alg.SHA1: return "Sha1";
      case Alg.SHA256: return "Sha256";
      case Alg.SHA384: return "Sha384";
      case Alg.SHA512: return "Sha512";
      case Alg.SM3_256: return "Sm3_256";
      default: throw new TpmFormatException(String.format("no agent_data name for hash 0x%04x", alg));
    }
  }

  static String signName(int scheme) throws TpmFormatException {
    switch (scheme) {
      case Alg.RSASSA: return "RsaSsa";
      case Alg.RSAPSS: return "RsaPss";
      case Alg.ECDSA: return "EcDsa";
      case Alg.ECSCHNORR: return "EcSchnorr";
      default: throw new TpmFormatException(String.format("no agent_data name for scheme 0x%04x", scheme));
    }
  }

  /** rust-keylime's EK hash: lowercase hex SHA-256 of the key's PEM as OpenSSL writes it. */
  public static String ekHash(PublicKey ek) {
    String pem = PemText.publicKey(ek);
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(pem.getBytes(StandardCharsets.US_ASCII)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public static AgentData read(Path file) throws IOException, TpmFormatException {
    long size = Files.size(file);
    if (size > DEFAULT_LIMIT) {
      throw new TpmFormatException(file + " is " + size + " bytes, more than the limit of " + DEFAULT_LIMIT);
    }
    return parse(Files.readString(file, StandardCharsets.UTF_8), DEFAULT_LIMIT);
  }

  public static AgentData parse(String json, int limit) throws TpmFormatException {
    if (json.length() > limit) {
      throw new TpmFormatException("agent data is " + json.length() + " characters, more than the limit of " + limit);
    }
    Object root = MiniJson.parse(json);
    if (!(root instanceof Map)) {
      throw new TpmFormatException("agent data is not a JSON object");
    }
    Map<?, ?> m = (Map<?, ?>) root;
    return new AgentData(string(m, "ak_hash_alg"), string(m, "ak_sign_alg"), bytes(m, "ak_public"),
        bytes(m, "ak_private"), bytes(m, "ek_hash"));
  }

  private static String string(Map<?, ?> m, String key) throws TpmFormatException {
    Object v = m.get(key);
    if (!(v instanceof String)) {
      throw new TpmFormatException("agent data field " + key + " is missing or not a string");
    }
    return (String) v;
  }

  private static byte[] bytes(Map<?, ?> m, String key) throws TpmFormatException {
    Object v = m.get(key);
    if (!(v instanceof List)) {
      throw new TpmFormatException("agent data field " + key + " is missing or not an array");
    }
    List<?> l = (List<?>) v;
    byte[] out = new byte[l.size()];
    for (int i = 0; i < out.length; i++) {
      Object e = l.get(i);
      if (!(e instanceof Long) || (Long) e < 0 || (Long) e > 255) {
        throw new TpmFormatException("agent data field " + key + " holds a non-byte value");
      }
      out[i] = (byte) (long) (Long) e;
    }
    return out;
  }

  /** JSON as rust-keylime writes it (serde_json pretty printer: 2-space indent). */
  public String toJson() {
    StringBuilder b = new StringBuilder("{\n");
    b.append("  \"ak_hash_alg\": \"").append(akHashAlg).append("\",\n");
    b.append("  \"ak_sign_alg\": \"").append(akSignAlg).append("\",\n");
    array(b, "ak_public", akPublic, true);
    array(b, "ak_private", akPrivate, true);
    array(b, "ek_hash", ekHash, false);
    return b.append('}').toString();
  }

  private static void array(StringBuilder b, String key, byte[] data, boolean comma) {
    b.append("  \"").append(key).append("\": [");
    if (data.length == 0) {
      b.append(']');
    } else {
      for (int i = 0; i < data.length; i++) {
        b.append(i == 0 ? "\n" : ",\n").append("    ").append(data[i] & 0xFF);
      }
      b.append("\n  ]");
    }
    b.append(comma ? ",\n" : "\n");
  }

  public void write(Path file) throws IOException {
    Files.writeString(file, toJson(), StandardCharsets.UTF_8);
  }
}
