package io.github.keylimeattestor.sovereign;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.Sha256;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.security.PublicKey;

/**
 * A TPM key as the evidence uses it: its public area, the Java key it holds, and its TPM Name
 * (nameAlg || H(TPMT_PUBLIC)), each derived once.
 *
 * <p>Two "EK hashes" exist and are kept apart: {@link #spkiSha256()} (SHA-256 of the DER
 * SubjectPublicKeyInfo) is the {@code ek_hash:} / {@code app_key:} selector value and the
 * template's {@code .EKHash} / {@code .AppKeyHash}; Keylime's {@code hash_ek} agent ID is SHA-256 of
 * the PEM text ({@link KeylimeAgentId#checkKeylimeHashEk}).
 */
public record TpmKey(TpmPublic publicArea, PublicKey key, Bytes name) {

  /** Derives the Java key and the Name from {@code publicArea}. */
  public static TpmKey of(TpmPublic publicArea) throws TpmFormatException {
    return new TpmKey(publicArea, publicArea.toPublicKey(), Bytes.copyFrom(publicArea.name()));
  }

  /** Lower-case hex SHA-256 of the key's SubjectPublicKeyInfo DER: the selector value. */
  public String spkiSha256() {
    return spkiSha256(key);
  }

  /** {@code openssl pkey -pubin -outform DER | sha256sum} of {@code key}. */
  public static String spkiSha256(PublicKey key) {
    return Sha256.hex(key.getEncoded());
  }
}
