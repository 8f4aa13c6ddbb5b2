package io.github.keylimeattestor.tpm;

import java.util.Optional;

/**
 * The one table of the hash algorithms we know: TPM_ALG_ID, digest size, the JDK's name, Keylime's
 * name ("sha256", also the wire format's and tpm2-tools') and rust-keylime's serde name in
 * agent_data.json ("Sha256"). {@link Alg}'s hash methods read it.
 */
public enum HashAlg {
  SHA1(Alg.SHA1, 20, "SHA-1", "sha1", "Sha1"),
  SHA256(Alg.SHA256, 32, "SHA-256", "sha256", "Sha256"),
  SHA384(Alg.SHA384, 48, "SHA-384", "sha384", "Sha384"),
  SHA512(Alg.SHA512, 64, "SHA-512", "sha512", "Sha512"),
  /** Not in the JDK: no {@link #javaName}. */
  SM3_256(Alg.SM3_256, 32, null, "sm3_256", "Sm3_256");

  private final int id;
  private final int digestSize;
  private final String javaName;
  private final String keylimeName;
  private final String agentDataName;

  HashAlg(int id, int digestSize, String javaName, String keylimeName, String agentDataName) {
    this.id = id;
    this.digestSize = digestSize;
    this.javaName = javaName;
    this.keylimeName = keylimeName;
    this.agentDataName = agentDataName;
  }

  public int id() {
    return id;
  }

  public int digestSize() {
    return digestSize;
  }

  /** The JDK's MessageDigest name, or null (SM3). */
  public String javaName() {
    return javaName;
  }

  public String keylimeName() {
    return keylimeName;
  }

  public String agentDataName() {
    return agentDataName;
  }

  public static Optional<HashAlg> byId(int id) {
    for (HashAlg h : values()) {
      if (h.id == id) {
        return Optional.of(h);
      }
    }
    return Optional.empty();
  }

  public static Optional<HashAlg> byKeylimeName(String name) {
    for (HashAlg h : values()) {
      if (h.keylimeName.equals(name)) {
        return Optional.of(h);
      }
    }
    return Optional.empty();
  }

  public static Optional<HashAlg> byAgentDataName(String name) {
    for (HashAlg h : values()) {
      if (h.agentDataName.equals(name)) {
        return Optional.of(h);
      }
    }
    return Optional.empty();
  }
}
