package io.github.keylimeattestor.keylime.emulator;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.Tpm;
import io.github.keylimeattestor.tpm.TpmException;
import io.github.keylimeattestor.tpm.TpmResponseException;
import io.github.keylimeattestor.tpm.TpmVerificationException;
import io.github.keylimeattestor.tpm.command.ActivateCredential;
import io.github.keylimeattestor.tpm.command.AttestResponse;
import io.github.keylimeattestor.tpm.command.Auth;
import io.github.keylimeattestor.tpm.command.Certify;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.command.Load;
import io.github.keylimeattestor.tpm.command.PolicySecret;
import io.github.keylimeattestor.tpm.command.Quote;
import io.github.keylimeattestor.tpm.command.ReadPublic;
import io.github.keylimeattestor.tpm.command.StartAuthSession;
import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.testing.CredentialBlob;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import java.io.IOException;

/**
 * The AK as rust-keylime 0.2.9 holds it: loaded once under the persistent EK at start, used by
 * handle for every quote and for ActivateCredential, and never flushed, not even at exit. On a TPM
 * without resource manager (swtpm) it therefore keeps one transient slot for the agent's whole
 * life and beyond: every restart leaks one more. Through tpm2-abrmd the object belongs to the
 * emulator's connection (abrmd swaps it out between commands and flushes it when the connection
 * ends). Like the real agent, it does not reload the AK if the TPM or abrmd restarts: quotes fail
 * until the emulator is restarted.
 */
final class ResidentAk {
  private static final int QUOTE_TRIES = 5;
  private final Tpm tpm;
  private final int handle;
  private final TpmPublic publicArea;

  private ResidentAk(Tpm tpm, int handle, TpmPublic publicArea) {
    this.tpm = tpm;
    this.handle = handle;
    this.publicArea = publicArea;
  }

  /** Loads {@code ak} under the persistent RSA EK 0x81010001 (swtpm_setup makes it) and keeps it. */
  static ResidentAk load(Tpm tpm, KeyBlob ak) throws IOException, TpmException {
    try {
      tpm.execute(new ReadPublic(Handles.PERSISTENT_EK_RSA));
    } catch (TpmResponseException e) {
      throw new IOException("--resident-ak needs the persistent EK 0x81010001 (swtpm_setup makes it): "
          + e.getMessage(), e);
    }
    int session = endorsementPolicy(tpm);
    int h;
    try {
      h = tpm.execute(new Load(Handles.PERSISTENT_EK_RSA, Auth.policy(session), ak)).handle();
    } catch (IOException | TpmException e) {
      flushQuietly(tpm, session);
      throw e;
    }
    return new ResidentAk(tpm, h, ak.publicArea());
  }

  int handle() {
    return handle;
  }

  /** TPM2_ActivateCredential with the resident AK and the persistent EK. */
  byte[] activateCredential(CredentialBlob blob) throws IOException, TpmException {
    int session = endorsementPolicy(tpm);
    try {
      return tpm.execute(new ActivateCredential(handle, Auth.empty(), Handles.PERSISTENT_EK_RSA,
          Auth.policy(session), blob.idObject().toByteArray(), blob.encryptedSecret().toByteArray()));
    } catch (IOException | TpmException e) {
      flushQuietly(tpm, session);
      throw e;
    }
  }

  /** TPM2_Quote by the resident AK, with the PCR values read back until they match the digest. */
  KeylimeQuote quote(KeylimeTpm ktpm, byte[] nonce, PcrSelection selection) throws IOException, TpmException {
    Scheme scheme = publicArea.scheme().scheme() != Alg.NULL ? Scheme.NULL
        : Scheme.of(Alg.RSASSA, publicArea.nameAlg());
    int hash = publicArea.scheme().scheme() != Alg.NULL ? publicArea.scheme().hashAlg() : publicArea.nameAlg();
    for (int i = 0; ; i++) {
      AttestResponse q = tpm.execute(new Quote(handle, Auth.empty(), nonce, scheme, selection));
      PcrBlob blob = ktpm.readPcrs(selection);
      if (Attest.parse(q.attest()).quote().pcrDigest().equals(Bytes.copyFrom(blob.digest(hash)))) {
        return new KeylimeQuote(q.attest(), q.signature(), Bytes.copyFrom(blob.encode()));
      }
      if (i + 1 >= QUOTE_TRIES) {
        throw new TpmVerificationException("PCRs kept changing while quoting (" + QUOTE_TRIES + " tries)");
      }
    }
  }

  /**
   * TPM2_Certify of the resident AK by itself with {@code qualifying} as extraData: the proof of
   * possession a push-mode verifier asks for before it issues a session token.
   */
  AttestResponse certifySelf(byte[] qualifying) throws IOException, TpmException {
    Scheme scheme = publicArea.scheme().scheme() != Alg.NULL ? Scheme.NULL
        : Scheme.of(Alg.RSASSA, publicArea.nameAlg());
    return tpm.execute(new Certify(handle, Auth.empty(), handle, Auth.empty(), qualifying, scheme));
  }

  TpmPublic publicArea() {
    return publicArea;
  }

  /** A policy session satisfied by PolicySecret(endorsement); the TPM flushes it after its one use. */
  private static int endorsementPolicy(Tpm tpm) throws IOException, TpmException {
    int session = tpm.execute(StartAuthSession.policy(tpm.randomBytes(32))).handle();
    try {
      tpm.execute(PolicySecret.endorsement(session));
    } catch (IOException | TpmException e) {
      flushQuietly(tpm, session);
      throw e;
    }
    return session;
  }

  private static void flushQuietly(Tpm tpm, int handle) {
    try {
      tpm.execute(new FlushContext(handle));
    } catch (IOException | TpmException | RuntimeException e) {
      // already gone (the TPM flushes a used policy session) or the TPM is unreachable
    }
  }
}
