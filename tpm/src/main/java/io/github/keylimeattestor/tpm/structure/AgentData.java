package io.github.keylimeattestor.tpm.structure;

import com.fasterxml.jackson.core.JsonFactory;
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
 * ({@code tpm.testing.AgentDataWriter}). Parsed with Jackson's streaming parser, not its ObjectMapper:
 * the agent plugin reads nothing else as JSON, and ObjectMapper's 400-odd classes cost it about 4 MB
 * of resident class metadata (see README, "Memory").
 */
public record AgentData(String akHashAlg, String akSignAlg, Bytes akPublic, Bytes akPrivate,
    Bytes ekHash) {
  public static final int DEFAULT_LIMIT = 64 * 1024;

  private static final JsonFactory JSON = new JsonFactory();
  private static final Set<String> FIELDS = Set.of("ak_hash_alg", "ak_sign_alg", "ak_public", "ak_private", "ek_hash");

  /** A field's value other than a string or an array of bytes (kept so that, as in JSON, the last duplicate counts). */
  private enum Unusable { NOT_STRING_OR_ARRAY, NON_BYTE_ELEMENT }

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
    Map<String, Object> fields = new HashMap<>();
    try (JsonParser p = JSON.createParser(json)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new TpmFormatException("agent data is not a JSON object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (FIELDS.contains(name)) {
          fields.put(name, value(p, t));
        } else {
          p.skipChildren();
        }
      }
      // the loop ends on the object's END_OBJECT (the parser refuses anything else there)
      if (p.nextToken() != null) {
        throw new TpmFormatException("invalid JSON: more after the agent data object");
      }
    } catch (JsonProcessingException e) {
      throw new TpmFormatException("invalid JSON: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new TpmFormatException("invalid JSON: " + e.getMessage(), e);
    }
    return new AgentData(string(fields, "ak_hash_alg"), string(fields, "ak_sign_alg"), bytes(fields, "ak_public"),
        bytes(fields, "ak_private"), bytes(fields, "ek_hash"));
  }

  /** A string, the bytes of an array of numbers 0-255, or why it is neither. Leaves {@code p} on the value's last token. */
  private static Object value(JsonParser p, JsonToken t) throws IOException {
    if (t == JsonToken.VALUE_STRING) {
      return p.getText();
    }
    if (t != JsonToken.START_ARRAY) {
      p.skipChildren();
      return Unusable.NOT_STRING_OR_ARRAY;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    boolean bytes = true;
    for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
      if (e == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT
          && p.getIntValue() >= 0 && p.getIntValue() <= 255) {
        out.write(p.getIntValue());
      } else {
        bytes = false;
        p.skipChildren();
      }
    }
    return bytes ? Bytes.copyFrom(out.toByteArray()) : Unusable.NON_BYTE_ELEMENT;
  }

  private static String string(Map<String, Object> m, String key) throws TpmFormatException {
    if (!(m.get(key) instanceof String v)) {
      throw new TpmFormatException("agent data field " + key + " is missing or not a string");
    }
    return v;
  }

  private static Bytes bytes(Map<String, Object> m, String key) throws TpmFormatException {
    Object v = m.get(key);
    if (v == Unusable.NON_BYTE_ELEMENT) {
      throw new TpmFormatException("agent data field " + key + " holds a non-byte value");
    }
    if (!(v instanceof Bytes b)) {
      throw new TpmFormatException("agent data field " + key + " is missing or not an array");
    }
    return b;
  }
}
