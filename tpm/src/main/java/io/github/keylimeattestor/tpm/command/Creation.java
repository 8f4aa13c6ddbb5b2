package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;

/** Marshalling shared by TPM2_Create and TPM2_CreatePrimary. */
final class Creation {
  private Creation() {}

  /** inSensitive (TPM2B_SENSITIVE_CREATE), inPublic, outsideInfo (empty), creationPCR (none). */
  static void parameters(TpmWriter w, byte[] userAuth, TpmPublic template) {
    byte[] sensitive = new TpmWriter().tpm2b(userAuth).tpm2b(new byte[0]).toByteArray();
    w.tpm2b(sensitive);
    w.bytes(template.marshalTpm2b());
    w.tpm2b(new byte[0]);
    w.u32(0);
  }

  /** Skips creationData, creationHash and creationTicket. */
  static void skipCreationOutputs(TpmReader p) throws TpmFormatException {
    p.sized("creationData");
    p.tpm2b(64, "creationHash");
    p.u16("creationTicket.tag");
    p.u32("creationTicket.hierarchy");
    p.tpm2b(64, "creationTicket.digest");
  }
}
