package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.Handles;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.List;

/**
 * What any user of a TPM holding a restricted key (an AK) can have it sign: data that does not start
 * with TPM_GENERATED, hashed by TPM2_Hash, whose ticket TPM2_Sign then accepts (TPM 2.0 Part 1,
 * "Restricted Signing Key"). Test-only: the plugins never sign with the AK.
 */
public final class HashThenSign {
  static final int CC_HASH = 0x0000017D; // TPM2_Hash: test-only, so not in CommandCode

  private HashThenSign() {}

  /** TPM_ST_HASHCHECK ticket. */
  public record Ticket(int tag, int hierarchy, byte[] digest) {}

  /** TPM2_Hash's answer: the digest and, for data a restricted key may sign, a ticket naming the owner hierarchy. */
  public record Hashed(byte[] digest, Ticket ticket) {}

  /** TPM2_Hash of {@code data} (at most 1024 bytes) with {@code hashAlg}, in the owner hierarchy. */
  public record Hash(byte[] data, int hashAlg) implements TpmCommand<Hashed> {
    @Override
    public int commandCode() {
      return CC_HASH;
    }

    @Override
    public void parameters(TpmWriter w) {
      w.tpm2b(data);
      w.u16(hashAlg);
      w.u32(Handles.RH_OWNER);
    }

    @Override
    public Hashed response(int[] handles, TpmReader p) throws TpmFormatException {
      byte[] digest = p.tpm2b(64, "outHash");
      return new Hashed(digest, new Ticket(p.u16("tag"), p.u32("hierarchy"), p.tpm2b(64, "ticket digest")));
    }
  }

  /** TPM2_Sign of {@code digest} by {@code keyHandle} with the TPM's own ticket for it. */
  public record Sign(int keyHandle, Auth auth, byte[] digest, Scheme inScheme, Ticket ticket)
      implements TpmCommand<TpmSignature> {
    @Override
    public int commandCode() {
      return CommandCode.SIGN;
    }

    @Override
    public int[] handles() {
      return new int[] {keyHandle};
    }

    @Override
    public List<Auth> authorizations() {
      return List.of(auth);
    }

    @Override
    public void parameters(TpmWriter w) {
      w.tpm2b(digest);
      inScheme.marshal(w);
      w.u16(ticket.tag());
      w.u32(ticket.hierarchy());
      w.tpm2b(ticket.digest());
    }

    @Override
    public TpmSignature response(int[] h, TpmReader p) throws TpmFormatException {
      return TpmSignature.parse(p);
    }
  }
}
