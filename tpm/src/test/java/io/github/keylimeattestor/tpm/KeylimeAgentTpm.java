package io.github.keylimeattestor.tpm;

import io.github.keylimeattestor.tpm.command.ActivateCredential;
import io.github.keylimeattestor.tpm.command.Auth;
import io.github.keylimeattestor.tpm.command.Create;
import io.github.keylimeattestor.tpm.command.GetCapability;
import io.github.keylimeattestor.tpm.command.HashThenSign;
import io.github.keylimeattestor.tpm.command.Load;
import io.github.keylimeattestor.tpm.command.NvRead;
import io.github.keylimeattestor.tpm.command.NvReadPublic;
import io.github.keylimeattestor.tpm.command.PcrExtend;
import io.github.keylimeattestor.tpm.command.PcrReset;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.github.keylimeattestor.tpm.testing.CredentialBlob;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * What a Keylime agent does with its TPM and the plugins never do: create the AK under the EK,
 * TPM2_ActivateCredential, the PCR16 binding of its NK, read the EK certificate from NV. A test
 * fixture (the emulator and tests), on {@link KeylimeTpm}'s slot discipline: at most 2 objects in
 * the TPM, everything flushed on return.
 */
public final class KeylimeAgentTpm {
  private final KeylimeTpm k;
  private final Tpm tpm;
  private int nvBufferMax;

  public KeylimeAgentTpm(KeylimeTpm k) {
    this.k = k;
    this.tpm = k.tpm();
  }

  public KeylimeAgentTpm(Tpm tpm) {
    this(new KeylimeTpm(tpm));
  }

  public KeylimeTpm keylimeTpm() {
    return k;
  }

  /** Creates an AK (e.g. {@link Templates#akRsa}) under the EK; returns its loadable blob. */
  public KeyBlob createAk(TpmPublic template) throws IOException, TpmException {
    try (KeylimeTpm.Scope s = k.new Scope()) {
      int ekHandle = k.primary(s, k.ek);
      Auth auth = k.ekAuth(s);
      return k.withSession(s, auth, new Create(ekHandle, auth, new byte[0], template));
    }
  }

  /**
   * Has the AK sign {@code data}, which must not start with TPM_GENERATED, as any program with access
   * to the TPM and the AK's blob could (TPM2_Hash, then TPM2_Sign with its ticket): a signature by the
   * AK alone does not make data TPM-generated evidence. At most 2 transient objects.
   */
  public TpmSignature signWithAk(KeyBlob ak, byte[] data) throws IOException, TpmException {
    try (KeylimeTpm.Scope s = k.new Scope()) {
      int ekHandle = k.primary(s, k.ek);
      Auth loadAuth = k.ekAuth(s);
      int akHandle = s.add(k.withSession(s, loadAuth, new Load(ekHandle, loadAuth, ak)).handle());
      s.flush(ekHandle);
      int hashAlg = ak.publicArea().scheme().hashAlg();
      HashThenSign.Hashed h = tpm.execute(new HashThenSign.Hash(data, hashAlg));
      return tpm.execute(new HashThenSign.Sign(akHandle, Auth.empty(), h.digest(), TpmPublic.Scheme.NULL, h.ticket()));
    }
  }

  /** Reads a whole NV index in NV_BUFFER_MAX chunks. */
  public byte[] readNv(int nvIndex) throws IOException, TpmException {
    return readNv(nvIndex, 0);
  }

  /** Reads a whole NV index in chunks of at most {@code maxChunk} bytes (0: NV_BUFFER_MAX). */
  public byte[] readNv(int nvIndex, int maxChunk) throws IOException, TpmException {
    NvReadPublic.Response pub = tpm.execute(new NvReadPublic(nvIndex));
    int authHandle;
    if ((pub.attributes() & NvReadPublic.NV_AUTHREAD) != 0) {
      authHandle = nvIndex;
    } else if ((pub.attributes() & NvReadPublic.NV_OWNERREAD) != 0) {
      authHandle = Handles.RH_OWNER;
    } else {
      authHandle = Handles.RH_PLATFORM;
    }
    int chunk = maxChunk > 0 ? maxChunk : nvBufferMax();
    byte[] out = new byte[pub.dataSize()];
    for (int off = 0; off < out.length; off += chunk) {
      int n = Math.min(chunk, out.length - off);
      byte[] part = tpm.execute(new NvRead(authHandle, nvIndex, Auth.empty(), n, off));
      System.arraycopy(part, 0, out, off, n);
    }
    return out;
  }

  private int nvBufferMax() throws IOException, TpmException {
    if (nvBufferMax == 0) {
      Integer v = tpm.execute(GetCapability.properties(GetCapability.PT_NV_BUFFER_MAX, 1))
          .properties().get(GetCapability.PT_NV_BUFFER_MAX);
      nvBufferMax = v != null && v > 0 ? Math.min(v, 4096) : 512;
    }
    return nvBufferMax;
  }

  /** The EK certificate (DER, as stored) for the configured EK type. */
  public byte[] readEkCertificate() throws IOException, TpmException {
    int index = k.ek.template().type() == Alg.RSA ? Handles.NV_EK_CERT_RSA2048 : Handles.NV_EK_CERT_ECC_P256;
    return readNv(index);
  }

  /** EK chain (intermediate) certificates from NV 0x01C00100..0x01C001FF, in index order. */
  public List<byte[]> readEkCertificateChain() throws IOException, TpmException {
    List<byte[]> out = new ArrayList<>();
    for (int h : nvIndices(Handles.NV_EK_CHAIN_FIRST)) {
      if (h > Handles.NV_EK_CHAIN_LAST) {
        break;
      }
      out.add(readNv(h));
    }
    return out;
  }

  private List<Integer> nvIndices(int first) throws IOException, TpmException {
    return tpm.execute(GetCapability.handles(first)).handles();
  }

  /** PCR_Reset then PCR_Extend with one digest (Keylime's PCR16 binding of its NK). */
  public void resetAndExtend(int pcr, int hashAlg, byte[] digest) throws IOException, TpmException {
    tpm.execute(new PcrReset(pcr));
    tpm.execute(new PcrExtend(pcr, hashAlg, digest));
  }

  /**
   * ActivateCredential: loads the AK under the EK and recovers the credential the registrar
   * bound to the AK's Name. At most 2 transient objects.
   */
  public byte[] activateCredential(KeyBlob ak, CredentialBlob blob) throws IOException, TpmException {
    try (KeylimeTpm.Scope s = k.new Scope()) {
      int ekHandle = k.primary(s, k.ek);
      Auth loadAuth = k.ekAuth(s);
      int akHandle = s.add(k.withSession(s, loadAuth, new Load(ekHandle, loadAuth, ak)).handle());
      Auth ekUse = k.ekAuth(s);
      return k.withSession(s, ekUse, new ActivateCredential(akHandle, Auth.empty(), ekHandle, ekUse,
          blob.idObject().toByteArray(), blob.encryptedSecret().toByteArray()));
    }
  }
}
