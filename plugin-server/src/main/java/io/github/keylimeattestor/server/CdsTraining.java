package io.github.keylimeattestor.server;

import io.github.keylimeattestor.proto.sovereign.SovereignAttestation;
import io.github.keylimeattestor.sovereign.ClockHistory;
import io.github.keylimeattestor.sovereign.EvidenceException;
import io.github.keylimeattestor.sovereign.EvidenceVerifier;
import io.github.keylimeattestor.sovereign.KeylimeAgentId;
import io.github.keylimeattestor.sovereign.Nonce;
import io.github.keylimeattestor.sovereign.PcrPolicy;
import io.github.keylimeattestor.sovereign.RegisteredKeys;
import io.github.keylimeattestor.sovereign.TpmKey;
import io.github.keylimeattestor.sovereign.VerifierRecord;
import io.github.keylimeattestor.sovereign.WireFormat;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.AlgorithmPolicy;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code --train-cds} runs of an attestation without Keylime or SPIRE
 * ({@link KeylimeServerPlugin#trainOffline}): the payload, challenge and attestation decodings and
 * the evidence checks up to the first one that made-up evidence fails, so that their classes are in
 * the class-data archive rather than read from the jar on the first attestation's clock. The Keylime
 * clients are trained by {@link KeylimeTraining}; the live TLS context and connections are warmed after
 * Configure ({@link KeylimeWarmUp}).
 */
final class CdsTraining {
  private CdsTraining() {}

  static void run() throws Exception {
    KeylimeAgentId id = KeylimeAgentId.parse("0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10");
    TpmPublic appKey = Templates.appKeyEccP256();
    WireFormat.Payload payload = WireFormat.decodePayload(WireFormat.encodePayload(id, appKey, "sha256"));
    Nonce nonce = Nonce.mint(new SecureRandom());
    PcrPolicy pcrs = new PcrPolicy(Alg.SHA256, new int[] {16}, Map.of(16, List.of(new byte[32])));
    WireFormat.decodeChallenge(WireFormat.encodeChallenge(nonce, pcrs.selection()));
    WireFormat.Certification c = new WireFormat.Certification(appKey, Bytes.copyFrom(new byte[64]),
        Bytes.copyFrom(new byte[64]));
    SovereignAttestation att = WireFormat.decodeAttestation(
        WireFormat.encodeAttestation(id, nonce, "r", c, Map.of()));
    KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(2048);
    PublicKey key = rsa.generateKeyPair().getPublic();
    TpmKey ak = new TpmKey(Templates.akRsa(Alg.SHA256), key, Bytes.copyFrom(new byte[34]));
    try {
      new EvidenceVerifier(new ClockHistory(16)).verifyNode(nonce,
          new EvidenceVerifier.Policy(pcrs, AlgorithmPolicy.STRICT, List.of(), false), payload, att,
          new RegisteredKeys(ak, ak, Optional.empty()), new VerifierRecord(Optional.of("PASS"), Map.of(), List.of()));
    } catch (EvidenceException expected) {
      // made-up evidence: refused at its quote; the checks up to there have run
    }
    PcrSelection.of(Alg.SHA256, 16);
  }
}
