package io.github.keylimeattestor.tpm.structure;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.HashAlg;
import io.github.keylimeattestor.tpm.Sha256;
import io.github.keylimeattestor.tpm.PemText;
import io.github.keylimeattestor.tpm.TpmFormatException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

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

  /**
   * Parses the file's text. Read with Jackson's streaming parser, not a tree: the agent plugin reads
   * this file at every attestation, and an ObjectMapper costs the first attestation some 400 classes
   * (about 100 ms) and every attestation a tree of ~2,000 nodes for the byte arrays. As a tree
   * would: unknown fields are skipped, a repeated field counts by its last value, nothing may follow
   * the object.
   */
  public static AgentData parse(String json, int limit) throws TpmFormatException {
    if (json.length() > limit) {
      throw new TpmFormatException("agent data is " + json.length() + " characters, more than the limit of " + limit);
    }
    Map<String, Object> fields = new HashMap<>();
    try (JsonParser p = JSON.createParser(json)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new TpmFormatException("agent data is not a JSON object");
      }
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        if (t == null) {
          throw new TpmFormatException("invalid JSON: the agent data object is not closed");
        }
        String key = p.currentName();
        JsonToken v = p.nextToken();
        if (STRINGS.contains(key) && v == JsonToken.VALUE_STRING) {
          fields.put(key, p.getText());
        } else if (BYTE_ARRAYS.contains(key) && v == JsonToken.START_ARRAY) {
          fields.put(key, byteArray(p, key));
        } else {
          // a field of the wrong type counts as absent (a later repeat may still set it); any other is skipped
          if (STRINGS.contains(key) || BYTE_ARRAYS.contains(key)) {
            fields.put(key, WRONG_TYPE);
          }
          p.skipChildren();
        }
      }
      if (p.nextToken() != null) {
        throw new TpmFormatException("invalid JSON: trailing token after the agent data object");
      }
    } catch (JsonProcessingException e) {
      throw new TpmFormatException("invalid JSON: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new TpmFormatException("invalid JSON: " + e.getMessage(), e);
    }
    return new AgentData(string(fields, "ak_hash_alg"), string(fields, "ak_sign_alg"), bytes(fields, "ak_public"),
        bytes(fields, "ak_private"), bytes(fields, "ek_hash"));
  }

  private static final JsonFactory JSON = new JsonFactory();
  private static final Set<String> STRINGS = Set.of("ak_hash_alg", "ak_sign_alg");
  private static final Set<String> BYTE_ARRAYS = Set.of("ak_public", "ak_private", "ek_hash");
  private static final Object WRONG_TYPE = new Object();
  /** A byte array holding something other than integers 0-255 (kept so that a later repeat may replace it). */
  private static final Object NOT_BYTES = new Object();

  /** The array the parser stands at the start of: its bytes, or {@link #NOT_BYTES} (the array is consumed). */
  private static Object byteArray(JsonParser p, String key) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream(512);
    boolean ok = true;
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      if (t == null) {
        throw new JsonParseException(p, "the " + key + " array is not closed");
      }
      if (t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT
          && p.getIntValue() >= 0 && p.getIntValue() <= 255) {
        out.write(p.getIntValue());
      } else {
        ok = false;
        p.skipChildren();
      }
    }
    return ok ? Bytes.copyFrom(out.toByteArray()) : NOT_BYTES;
  }

  private static String string(Map<String, Object> m, String key) throws TpmFormatException {
    if (!(m.get(key) instanceof String v)) {
      throw new TpmFormatException("agent data field " + key + " is missing or not a string");
    }
    return v;
  }

  private static Bytes bytes(Map<String, Object> m, String key) throws TpmFormatException {
    Object v = m.get(key);
    if (v == NOT_BYTES) {
      throw new TpmFormatException("agent data field " + key + " holds a non-byte value");
    }
    if (!(v instanceof Bytes b)) {
      throw new TpmFormatException("agent data field " + key + " is missing or not an array");
    }
    return b;
  }
}
