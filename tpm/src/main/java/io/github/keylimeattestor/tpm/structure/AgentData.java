package io.github.keylimeattestor.tpm.structure;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.HashAlg;
import io.github.keylimeattestor.tpm.Sha256;
import io.github.keylimeattestor.tpm.PemText;
import io.github.keylimeattestor.tpm.TpmFormatException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.Base64;

/**
 * rust-keylime's {@code agent_data.json}: the agent's AK as a marshalled TPMT_PUBLIC and the
 * contents of its TPM2B_PRIVATE, the AK's hash and signing algorithms (serde enum names such as
 * "Sha256", "RsaSsa"), and the EK hash (ASCII of the lowercase hex SHA-256 of the EK's PEM).
 * Byte strings are JSON arrays of numbers 0-255. Read only here; the emulator writes it
 * ({@code tpm.testing.AgentDataWriter}).
 */
public record AgentData(String akHashAlg, String akSignAlg, Bytes akPublic, Bytes akPrivate,
    Bytes ekHash) {
  public static final int DEFAULT_LIMIT = 64 * 1024;

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** The AK as a loadable blob. */
  public KeyBlob akBlob() throws TpmFormatException {
    return new KeyBlob(TpmPublic.parse(akPublic.toByteArray()), akPrivate);
  }

  /** TPM hash algorithm of {@link #akHashAlg}. */
  public int akHashAlgId() throws TpmFormatException {
    return HashAlg.byAgentDataName(akHashAlg).map(HashAlg::id)
        .orElseThrow(() -> new TpmFormatException("unknown ak_hash_alg " + akHashAlg));
  }

  /** {@link #ekHash} as the text it is (lowercase hex). */
  public String ekHashText() {
    return new String(ekHash.toByteArray(), StandardCharsets.US_ASCII);
  }

  /** rust-keylime's EK hash: lowercase hex SHA-256 of the key's PEM as OpenSSL writes it. */
  public static String ekHash(PublicKey ek) {
    return Sha256.hex(PemText.publicKey(ek).getBytes(StandardCharsets.US_ASCII));
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
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new TpmFormatException("invalid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new TpmFormatException("agent data is not a JSON object");
    }
    return new AgentData(string(root, "ak_hash_alg"), string(root, "ak_sign_alg"), bytes(root, "ak_public"),
        bytes(root, "ak_private"), bytes(root, "ek_hash"));
  }

  private static String string(JsonNode m, String key) throws TpmFormatException {
    JsonNode v = m.get(key);
    if (v == null || !v.isTextual()) {
      throw new TpmFormatException("agent data field " + key + " is missing or not a string");
    }
    return v.textValue();
  }

  private static Bytes bytes(JsonNode m, String key) throws TpmFormatException {
    JsonNode v = m.get(key);
    if (v == null || !v.isArray()) {
      throw new TpmFormatException("agent data field " + key + " is missing or not an array");
    }
    byte[] out = new byte[v.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode e = v.get(i);
      if (!e.isIntegralNumber() || !e.canConvertToInt() || e.intValue() < 0 || e.intValue() > 255) {
        throw new TpmFormatException("agent data field " + key + " holds a non-byte value");
      }
      out[i] = (byte) e.intValue();
    }
    return Bytes.copyFrom(out);
  }
}
