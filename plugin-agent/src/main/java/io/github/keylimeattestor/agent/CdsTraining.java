package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.keylime.KeyFilePermissions;
import io.github.keylimeattestor.sovereign.AppKeyBinding;
import io.github.keylimeattestor.sovereign.KeylimeAgentId;
import io.github.keylimeattestor.sovereign.Nonce;
import io.github.keylimeattestor.sovereign.SvidKeyBinding;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.TpmException;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;

/**
 * What {@code --train-cds} runs of an attestation without a TPM, a Keylime agent or SPIRE
 * ({@link KeylimeAgentPlugin#trainOffline}), so that the classes of the first attestation are in the
 * class-data archive rather than read from the jar on its clock: agent_data.json read and checked as
 * an attestation reads it (a made-up AK), the payload, challenge and attestation encodings, and the
 * TPM commands of an attestation marshalled up to a stand-in TPM that refuses every command (no
 * TPM is opened). Made-up data only; nothing is written outside a private temporary directory.
 */
final class CdsTraining {
  /** TPM_RC_FAILURE: the stand-in TPM's answer to every command. */
  private static final int TPM_RC_FAILURE = 0x101;

  private CdsTraining() {}

  static void run() throws Exception {
    Path dir = Files.createTempDirectory("keylime-attestor-train",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    try {
      Path agentData = dir.resolve("agent_data.json");
      Files.writeString(agentData, agentDataJson(Templates.akRsa(Alg.SHA256)), StandardCharsets.UTF_8);
      KeyFilePermissions.checkNotWritableByOthers(agentData, "agent_data_path");
      AgentData data = new AgentDataFile(agentData).read();
      KeyBlob ak = data.akBlob();
      String hashAlg = WireFormat.hashAlgName(data.akHashAlgId());
      KeylimeAgentId id = KeylimeAgentId.parse("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10");
      TpmPublic appKey = Templates.appKeyEccP256();
      AppKeyBinding.checkAttributes(appKey);
      WireFormat.decodePayload(WireFormat.encodePayload(id, appKey, hashAlg));

      Nonce minted = Nonce.mint(new SecureRandom());
      WireFormat.Challenge challenge = WireFormat.decodeChallenge(
          WireFormat.encodeChallenge(minted, PcrSelection.of(Alg.SHA256, 16)));
      KeyBlob appKeyBlob = new KeyBlob(appKey, Bytes.copyFrom(new byte[32]));
      List<KeylimeTpm.ToCertify> toCertify = List.of(
          new KeylimeTpm.ToCertify(appKeyBlob, AppKeyBinding.certifyQualifyingData(challenge.nonce())),
          new KeylimeTpm.ToCertify(appKeyBlob, SvidKeyBinding.certifyQualifyingData(challenge.nonce(), "train")));
      try (Tpm refusing = new Tpm(CdsTraining::refuse)) {
        new KeylimeTpm(refusing, KeylimeTpm.EK_RSA, KeylimeTpm.SRK).quoteAndCertifyAll(ak,
            challenge.nonce().quoteQualifyingData(), challenge.selection(), toCertify);
      } catch (TpmException expected) {
        // the stand-in refuses the first command; its marshalling and the error path have run
      }
      WireFormat.Certification certification = new WireFormat.Certification(appKey, Bytes.copyFrom(new byte[64]),
          Bytes.copyFrom(new byte[64]));
      WireFormat.decodeAttestation(WireFormat.encodeAttestation(id, challenge.nonce(), "r", certification,
          Map.of("train", certification)));
    } finally {
      try (var files = Files.list(dir)) {
        for (Path p : (Iterable<Path>) files::iterator) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(dir);
    }
  }

  private static byte[] refuse(byte[] command) throws IOException {
    return ByteBuffer.allocate(10).putShort((short) 0x8001).putInt(10).putInt(TPM_RC_FAILURE).array();
  }

  /** rust-keylime's agent_data.json shape (byte strings as arrays of numbers). */
  static String agentDataJson(TpmPublic ak) {
    return "{\"ak_hash_alg\":\"Sha256\",\"ak_sign_alg\":\"RsaSsa\",\"ak_public\":" + array(ak.marshal())
        + ",\"ak_private\":" + array(new byte[48]) + ",\"ek_hash\":"
        + array("0".repeat(64).getBytes(StandardCharsets.US_ASCII)) + "}";
  }

  private static String array(byte[] b) {
    StringBuilder s = new StringBuilder(b.length * 4 + 2).append('[');
    for (int i = 0; i < b.length; i++) {
      s.append(i == 0 ? "" : ",").append(b[i] & 0xFF);
    }
    return s.append(']').toString();
  }
}
