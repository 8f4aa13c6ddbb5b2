package io.github.keylimeattestor.tpm.testing;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.HashAlg;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;

/** Writes {@code agent_data.json} as rust-keylime does (the emulator's and tests' side of {@link AgentData}). */
public final class AgentDataWriter {
  private AgentDataWriter() {}

  /** The record for an AK blob, deriving the algorithm names from its public area. */
  public static AgentData of(KeyBlob ak, PublicKey ek) throws TpmFormatException {
    TpmPublic pub = ak.publicArea();
    int hash = pub.scheme().scheme() != Alg.NULL ? pub.scheme().hashAlg() : pub.nameAlg();
    String hashName = HashAlg.byId(hash).map(HashAlg::agentDataName).orElseThrow(() ->
        new TpmFormatException(String.format("no agent_data name for hash 0x%04x", hash)));
    return new AgentData(hashName, signName(pub.scheme().scheme()), Bytes.copyFrom(pub.marshal()),
        ak.privateBlob(), Bytes.copyFrom(AgentData.ekHash(ek).getBytes(StandardCharsets.US_ASCII)));
  }

  private static String signName(int scheme) throws TpmFormatException {
    switch (scheme) {
      case Alg.RSASSA: return "RsaSsa";
      case Alg.RSAPSS: return "RsaPss";
      case Alg.ECDSA: return "EcDsa";
      case Alg.ECSCHNORR: return "EcSchnorr";
      default: throw new TpmFormatException(String.format("no agent_data name for scheme 0x%04x", scheme));
    }
  }

  /**
   * JSON byte for byte as rust-keylime writes it (serde_json's pretty printer: 2-space indent, one
   * array element a line, no final newline); Jackson's pretty printer differs in spacing.
   */
  public static String toJson(AgentData d) {
    StringBuilder b = new StringBuilder("{\n");
    b.append("  \"ak_hash_alg\": \"").append(d.akHashAlg()).append("\",\n");
    b.append("  \"ak_sign_alg\": \"").append(d.akSignAlg()).append("\",\n");
    array(b, "ak_public", d.akPublic(), true);
    array(b, "ak_private", d.akPrivate(), true);
    array(b, "ek_hash", d.ekHash(), false);
    return b.append('}').toString();
  }

  private static void array(StringBuilder b, String key, Bytes data, boolean comma) {
    b.append("  \"").append(key).append("\": [");
    if (data.isEmpty()) {
      b.append(']');
    } else {
      for (int i = 0; i < data.size(); i++) {
        b.append(i == 0 ? "\n" : ",\n").append("    ").append(data.byteAt(i) & 0xFF);
      }
      b.append("\n  ]");
    }
    b.append(comma ? ",\n" : "\n");
  }

  /** Writes the agent_data.json of {@code ak} and {@code ek} to {@code file}. */
  public static void write(KeyBlob ak, PublicKey ek, Path file) throws IOException, TpmFormatException {
    write(of(ak, ek), file);
  }

  public static void write(AgentData d, Path file) throws IOException {
    Files.writeString(file, toJson(d), StandardCharsets.UTF_8);
  }
}
