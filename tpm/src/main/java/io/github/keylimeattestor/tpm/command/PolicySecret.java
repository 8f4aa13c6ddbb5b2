package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/**
 * TPM2_PolicySecret with empty nonceTPM, cpHash and policyRef and no expiration: asserts knowledge
 * of {@code authHandle}'s auth (e.g. TPM_RH_ENDORSEMENT) in a policy session (the EK's PolicyA).
 */
public record PolicySecret(int authHandle, Auth auth, int policySession) implements TpmCommand<Void> {
  /** PolicySecret(TPM_RH_ENDORSEMENT) with the empty endorsement password. */
  public static PolicySecret endorsement(int policySession) {
    return new PolicySecret(Handles.RH_ENDORSEMENT, Auth.empty(), policySession);
  }

  @Override
  public int commandCode() {
    return CommandCode.POLICY_SECRET;
  }

  @Override
  public int[] handles() {
    return new int[] {authHandle, policySession};
  }

  @Override
  public List<Auth> authorizations() {
    return List.of(auth);
  }

  @Override
  public void parameters(TpmWriter w) {
    w.tpm2b(new byte[0]).tpm2b(new byte[0]).tpm2b(new byte[0]).u32(0);
  }

  @Override
  public Void response(int[] h, TpmReader p) throws TpmFormatException {
    p.tpm2b(64, "timeout");
    p.u16("policyTicket.tag");
    p.u32("policyTicket.hierarchy");
    p.tpm2b(64, "policyTicket.digest");
    return null;
  }
}
