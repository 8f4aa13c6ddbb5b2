package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.structure.AgentData;
import java.security.PublicKey;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A Keylime agent ID as the node claims it: a UUID, or the 64-hex SHA-256 of the EK that
 * rust-keylime uses with {@code uuid = "hash_ek"}. Keylime's shipped default UUID is refused: two
 * nodes left on it collide, so it can never identify one node.
 */
public record KeylimeAgentId(String value) {
  public static final String KEYLIME_DEFAULT_UUID = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000";
  private static final Pattern UUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  private static final Pattern EK_HASH = Pattern.compile("[0-9a-f]{64}");

  public static KeylimeAgentId parse(String text) throws EvidenceException {
    if (text == null || text.length() > 64) {
      throw EvidenceException.malformed("agent_uuid", "Keylime agent UUID is missing or too long");
    }
    String v = text.toLowerCase(Locale.ROOT);
    if (!UUID.matcher(v).matches() && !EK_HASH.matcher(v).matches()) {
      throw EvidenceException.malformed("agent_uuid", "Keylime agent UUID '" + text
          + "' is neither a UUID nor a 64-hex EK hash");
    }
    if (v.equals(KEYLIME_DEFAULT_UUID)) {
      throw EvidenceException.rejected("default_uuid", "the node uses Keylime's default agent UUID "
          + KEYLIME_DEFAULT_UUID + ": give each Keylime agent its own uuid (or uuid = \"hash_ek\") in its agent.conf");
    }
    return new KeylimeAgentId(v);
  }

  /** True for the 64-hex form, which Keylime agents use only as Keylime's EK hash ({@code uuid = "hash_ek"}). */
  public boolean isKeylimeHashEk() {
    return EK_HASH.matcher(value).matches();
  }

  /**
   * For the 64-hex form, requires it to be the EK hash of {@code registrarEk}, the EK Keylime's
   * registrar holds for this ID: Keylime's {@code hash_ek}, the lowercase hex SHA-256 of the EK's
   * public key PEM as OpenSSL writes it (rust-keylime {@code hash_ek_pubkey}; Keylime's agent.conf
   * template: "SHA256(public EK in PEM format)"). A UUID is not checked. This is not the {@code
   * ek_hash:} selector value, which hashes the DER key ({@link TpmKey#spkiSha256()}).
   */
  public void checkKeylimeHashEk(PublicKey registrarEk) throws EvidenceException {
    if (isKeylimeHashEk() && !value.equals(AgentData.ekHash(registrarEk))) {
      throw EvidenceException.rejected("agent_uuid_ek_hash", "Keylime agent ID " + value + " has the EK-hash form "
          + "but is not the hash of the EK the registrar holds for it: an EK-hash ID must name its own TPM's EK");
    }
  }

  @Override
  public String toString() {
    return value;
  }
}
