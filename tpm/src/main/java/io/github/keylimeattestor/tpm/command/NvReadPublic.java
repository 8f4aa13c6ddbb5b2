package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.Bytes;
import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.TpmReader;

/** TPM2_NV_ReadPublic. */
public record NvReadPublic(int nvIndex) implements TpmCommand<NvReadPublic.Response> {
  /** TPMS_NV_PUBLIC and the index's Name. */
  public record Response(int nvIndex, int nameAlg, int attributes, Bytes authPolicy, int dataSize,
      Bytes name) {}

  public static final int NV_AUTHREAD = 0x00040000;
  public static final int NV_PPREAD = 0x00010000;
  public static final int NV_OWNERREAD = 0x00020000;

  @Override
  public int commandCode() {
    return CommandCode.NV_READ_PUBLIC;
  }

  @Override
  public int[] handles() {
    return new int[] {nvIndex};
  }

  @Override
  public Response response(int[] h, TpmReader p) throws TpmFormatException {
    TpmReader pub = p.sized("nvPublic");
    Response r = new Response(pub.u32("nvIndex"), pub.u16("nameAlg"), pub.u32("attributes"),
        pub.tpm2bValue(64, "authPolicy"), pub.u16("dataSize"), null);
    pub.expectEnd("TPMS_NV_PUBLIC");
    Bytes name = p.tpm2bValue(66, "nvName");
    return new Response(r.nvIndex(), r.nameAlg(), r.attributes(), r.authPolicy(), r.dataSize(), name);
  }
}
