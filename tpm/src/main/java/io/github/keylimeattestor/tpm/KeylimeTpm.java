package io.github.keylimeattestor.tpm;

import io.github.keylimeattestor.tpm.command.AttestResponse;
import io.github.keylimeattestor.tpm.command.Auth;
import io.github.keylimeattestor.tpm.command.Certify;
import io.github.keylimeattestor.tpm.command.ContextLoad;
import io.github.keylimeattestor.tpm.command.ContextSave;
import io.github.keylimeattestor.tpm.command.Create;
import io.github.keylimeattestor.tpm.command.CreatePrimary;
import io.github.keylimeattestor.tpm.command.FlushContext;
import io.github.keylimeattestor.tpm.command.GetCapability;
import io.github.keylimeattestor.tpm.command.Load;
import io.github.keylimeattestor.tpm.command.PcrRead;
import io.github.keylimeattestor.tpm.command.PolicySecret;
import io.github.keylimeattestor.tpm.command.Quote;
import io.github.keylimeattestor.tpm.command.ReadPublic;
import io.github.keylimeattestor.tpm.command.Sign;
import io.github.keylimeattestor.tpm.command.StartAuthSession;
import io.github.keylimeattestor.tpm.structure.Attest;
import io.github.keylimeattestor.tpm.structure.KeyBlob;
import io.github.keylimeattestor.tpm.structure.KeylimeQuote;
import io.github.keylimeattestor.tpm.structure.PcrBlob;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.transport.CommandMayHaveRunException;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The multi-command sequences the plugins need, with transient-slot
 * discipline for a TPM without resource manager (swtpm: 3 slots shared with every client, one of
 * which the Keylime agent keeps for its AK). Each method has at most 2 objects in the TPM at any
 * time, counting a persistent EK / SRK while a command uses it (the TPM then loads it into a
 * transient slot), and flushes everything it loaded or started before it returns, also when it fails.
 * Persistent EK / storage keys are used when present; otherwise they are created from their
 * templates and flushed. Whether a persistent handle is usable is checked once per instance.
 *
 * <p>What only a Keylime agent does (create the AK, ActivateCredential, the PCR16 binding, read the
 * EK certificate) is in the test fixtures ({@code KeylimeAgentTpm}, tpm's test-jar), which use the
 * package-private scope and EK helpers.
 *
 * <p>Not thread-safe; multi-command sequences are not atomic with respect to other TPM clients.
 */
public final class KeylimeTpm {
  /** How to obtain a primary key: a persistent handle if it holds a matching key, else a template. */
  public record Primary(int persistentHandle, int hierarchy, TpmPublic template) {}

  /** swtpm_setup's / rust-keylime's RSA EK: persistent 0x81010001 or TCG template L-1. */
  public static final Primary EK_RSA =
      new Primary(Handles.PERSISTENT_EK_RSA, Handles.RH_ENDORSEMENT, Templates.ekRsa2048());
  /** ECC EK from TCG template L-2 (no customary persistent handle). */
  public static final Primary EK_ECC = new Primary(0, Handles.RH_ENDORSEMENT, Templates.ekEccP256());
  /** Storage primary: persistent 0x81000001 or an ECC P-256 SRK. */
  public static final Primary SRK = new Primary(Handles.PERSISTENT_SRK, Handles.RH_OWNER, Templates.srkEccP256());

  /** A quote in Keylime's form and, if asked for, a certification of another key by the AK. */
  public record Evidence(KeylimeQuote quote, AttestResponse certify) {}

  /** A key under the storage primary to certify by the AK, with its TPM2_Certify qualifying data. */
  public record ToCertify(KeyBlob key, byte[] qualifyingData) {}

  /** A quote (if asked for) and one TPM2_Certify per {@link ToCertify}, in order. */
  public record MultiEvidence(KeylimeQuote quote, List<AttestResponse> certifications) {}

  private static final int QUOTE_TRIES = 5;
  private final Tpm tpm;
  final Primary ek;
  private final Primary srk;
  private final Map<Integer, Boolean> persistentUsable = new LinkedHashMap<>();

  public KeylimeTpm(Tpm tpm) {
    this(tpm, EK_RSA, SRK);
  }

  public KeylimeTpm(Tpm tpm, Primary ek, Primary srk) {
    this.tpm = tpm;
    this.ek = ek;
    this.srk = srk;
  }

  public Tpm tpm() {
    return tpm;
  }

  /** Transient handles flushed in reverse order on close; a flush failure never hides the first error. */
  final class Scope implements AutoCloseable {
    private final Deque<Integer> handles = new ArrayDeque<>();

    int add(int handle) {
      handles.push(handle);
      return handle;
    }

    void forget(int handle) {
      handles.remove(handle);
    }

    /**
     * Flushes now; if the flush did not run the handle stays listed so that close() tries again
     * (see {@link #notRun}).
     */
    void flush(int handle) throws IOException, TpmException {
      if (handles.contains(handle)) {
        try {
          tpm.execute(new FlushContext(handle));
        } catch (IOException | TpmException | RuntimeException e) {
          if (!notRun(e)) {
            handles.remove(handle);
          }
          throw e;
        }
        handles.remove(handle);
      }
    }

    /**
     * Only a flush that did not run is sent again: one that never reached the TPM, or that the TPM
     * answered with a warning (TPM 2.0 Part 2: the command was not executed). One the TPM refused
     * with an error (TPM_RC_HANDLE: ours is already gone) or that may have run must not be: on a TPM
     * without a resource manager the number can by then belong to another client's object, such as
     * the Keylime agent's AK.
     */
    private static boolean notRun(Exception e) {
      if (e instanceof TpmResponseException r) {
        return r.responseCode().isWarning();
      }
      return e instanceof IOException && !(e instanceof CommandMayHaveRunException);
    }

    @Override
    public void close() throws IOException, TpmException {
      Exception first = null;
      // a flush that did not run gets a second chance: one lost connection must not leak a slot
      for (int round = 0; round < 2 && !handles.isEmpty(); round++) {
        Deque<Integer> failed = new ArrayDeque<>();
        first = null;
        while (!handles.isEmpty()) {
          int h = handles.pop();
          try {
            tpm.execute(new FlushContext(h));
          } catch (IOException | TpmException | RuntimeException e) {
            if (notRun(e)) {
              failed.addLast(h);
            }
            if (first == null) {
              first = e;
            } else {
              first.addSuppressed(e);
            }
          }
        }
        handles.addAll(failed);
      }
      handles.clear();
      if (first instanceof IOException) {
        throw (IOException) first;
      } else if (first instanceof TpmException) {
        throw (TpmException) first;
      } else if (first != null) {
        throw (RuntimeException) first;
      }
    }
  }

  /** True if {@code p.persistentHandle} holds a key made from {@code p.template}'s kind of template. */
  private boolean persistentUsable(Primary p) throws IOException, TpmException {
    if (p.persistentHandle() == 0) {
      return false;
    }
    Boolean cached = persistentUsable.get(p.persistentHandle());
    if (cached != null) {
      return cached;
    }
    boolean usable;
    try {
      TpmPublic pub = tpm.execute(new ReadPublic(p.persistentHandle())).outPublic();
      TpmPublic t = p.template();
      usable = pub.type() == t.type() && pub.nameAlg() == t.nameAlg()
          && pub.objectAttributes() == t.objectAttributes()
          && pub.authPolicy().equals(t.authPolicy())
          && pub.symmetric().equals(t.symmetric()) && pub.keyBits() == t.keyBits()
          && pub.curveId() == t.curveId();
    } catch (TpmResponseException e) {
      if (e.responseCode().base() != ResponseCode.HANDLE) {
        throw e;
      }
      usable = false;
    }
    persistentUsable.put(p.persistentHandle(), usable);
    return usable;
  }

  int primary(Scope scope, Primary p) throws IOException, TpmException {
    if (persistentUsable(p)) {
      return p.persistentHandle();
    }
    return scope.add(tpm.execute(CreatePrimary.of(p.hierarchy(), p.template())).handle());
  }

  private boolean needsPolicy(Primary p) {
    return !(p.template().hasAttributes(ObjectAttributes.USER_WITH_AUTH));
  }

  /** Authorization for using the EK as parent / decryption key: PolicySecret(endorsement). */
  Auth ekAuth(Scope scope) throws IOException, TpmException {
    if (!needsPolicy(ek)) {
      return Auth.empty();
    }
    int session = scope.add(tpm.execute(StartAuthSession.policy(tpm.randomBytes(32))).handle());
    tpm.execute(PolicySecret.endorsement(session));
    return Auth.policy(session);
  }

  /** Runs a command authorized by {@code auth}; a policy session the TPM flushed is forgotten. */
  <R> R withSession(Scope scope, Auth auth,
      io.github.keylimeattestor.tpm.command.TpmCommand<R> cmd) throws IOException, TpmException {
    R r;
    try {
      r = tpm.execute(cmd);
    } catch (TpmFormatException | io.github.keylimeattestor.tpm.transport.CommandMayHaveRunException e) {
      // A success reply that did not parse, or a command that may have run: the TPM may have ended the
      // session (continueSession clear), and on a TPM without a resource manager its handle may since
      // name another client's session, which a flush would end. Only a definite error reply keeps it.
      forgetSession(scope, auth);
      throw e;
    }
    forgetSession(scope, auth);
    return r;
  }

  private static void forgetSession(Scope scope, Auth auth) {
    if (auth.sessionHandle() != Handles.RS_PW) {
      scope.forget(auth.sessionHandle());
    }
  }

  // ---------------------------------------------------------------- EK

  /** The EK's public area (persistent EK, else created from the template and flushed). */
  public TpmPublic ekPublic() throws IOException, TpmException {
    try (Scope s = new Scope()) {
      if (persistentUsable(ek)) {
        return tpm.execute(new ReadPublic(ek.persistentHandle())).outPublic();
      }
      CreatePrimary.Response r = tpm.execute(CreatePrimary.of(ek.hierarchy(), ek.template()));
      s.add(r.handle());
      return r.outPublic();
    }
  }

  // ---------------------------------------------------------------- keys

  /** Creates an App Key (e.g. {@link Templates#appKeyEccP256}) under the storage primary. */
  public KeyBlob createAppKey(TpmPublic template) throws IOException, TpmException {
    return createSigningKey(template);
  }

  /** Creates a signing key (e.g. {@link Templates#signingKey}) under the storage primary. */
  public KeyBlob createSigningKey(TpmPublic template) throws IOException, TpmException {
    try (Scope s = new Scope()) {
      int parent = primary(s, srk);
      return tpm.execute(new Create(parent, Auth.empty(), new byte[0], template));
    }
  }

  /**
   * Loads {@code key} under the storage primary, exactly as {@link #quoteAndCertify} would, and
   * flushes everything again. A {@link TpmResponseException} from TPM2_Load means this TPM can no
   * longer use the blob (cleared TPM, other TPM, damaged blob).
   */
  public void checkLoadable(KeyBlob key) throws IOException, TpmException {
    try (Scope s = new Scope()) {
      int parent = primary(s, srk);
      s.add(tpm.execute(new Load(parent, Auth.empty(), key)).handle());
    }
  }

  /**
   * Loads the Keylime AK under the EK, exactly as a quote would, and flushes everything again. A
   * {@link TpmResponseException} from TPM2_Load means the AK is not this TPM's (or the EK differs).
   */
  public void checkAkLoadable(KeyBlob ak) throws IOException, TpmException {
    try (Scope s = new Scope()) {
      loadAk(s, ak);
    }
  }

  /**
   * TPM2_Sign of {@code digest} by {@code key} (an unrestricted signing key under the storage
   * primary) with {@code scheme}: load under the primary, flush a transient primary, sign, flush.
   * At most 2 objects of ours in the TPM.
   */
  public TpmSignature sign(KeyBlob key, byte[] digest, Scheme scheme) throws IOException, TpmException {
    try (Scope s = new Scope()) {
      int parent = primary(s, srk);
      int handle = s.add(tpm.execute(new Load(parent, Auth.empty(), key)).handle());
      s.flush(parent);
      return tpm.execute(new Sign(handle, Auth.empty(), digest, scheme));
    }
  }

  /** Loads the AK under the EK and flushes a transient EK right away. At most 2 transient objects. */
  private int loadAk(Scope s, KeyBlob ak) throws IOException, TpmException {
    int ekHandle = primary(s, ek);
    Auth auth = ekAuth(s);
    int handle = s.add(withSession(s, auth, new Load(ekHandle, auth, ak)).handle());
    s.flush(ekHandle);
    return handle;
  }

  private static Scheme signingScheme(TpmPublic key) {
    return key.scheme().scheme() != Alg.NULL ? Scheme.NULL
        : Scheme.of(key.type() == Alg.RSA ? Alg.RSASSA : Alg.ECDSA, key.nameAlg());
  }

  private static int signingHash(TpmPublic key) {
    return key.scheme().scheme() != Alg.NULL ? key.scheme().hashAlg() : key.nameAlg();
  }

  // ---------------------------------------------------------------- attestation

  /** TPM2_Quote by the AK over {@code selection} with {@code nonce} as qualifying data. */
  public KeylimeQuote quote(KeyBlob ak, byte[] nonce, PcrSelection selection)
      throws IOException, TpmException {
    return quoteAndCertify(ak, nonce, selection, null, null).quote();
  }

  /** TPM2_Certify of {@code key} (under the storage primary) by the AK. */
  public AttestResponse certify(KeyBlob ak, KeyBlob key, byte[] qualifyingData)
      throws IOException, TpmException {
    return quoteAndCertify(ak, null, null, key, qualifyingData).certify();
  }

  /**
   * Loads the Keylime AK under the EK (PolicySecret session) and, as asked, quotes and certifies
   * {@code appKey} (a key under the storage primary). A null {@code nonce} skips the quote, a null
   * {@code appKey} the certify. Never more than 2 objects of ours in the TPM, counting a persistent
   * parent while it is in use (the TPM loads it into a transient slot for that command), so that it
   * fits in swtpm's 3 slots beside one object of another client (the Keylime agent's AK):
   * load App Key, save its context, flush it; load AK; quote; load the App Key's context; certify.
   */
  public Evidence quoteAndCertify(KeyBlob ak, byte[] nonce, PcrSelection selection, KeyBlob appKey,
      byte[] certifyQualifyingData) throws IOException, TpmException {
    List<ToCertify> keys = appKey == null ? List.of() : List.of(new ToCertify(appKey, certifyQualifyingData));
    MultiEvidence m = quoteAndCertifyAll(ak, nonce, selection, keys);
    return new Evidence(m.quote(), appKey == null ? null : m.certifications().get(0));
  }

  /**
   * As {@link #quoteAndCertify} for any number of keys under the storage primary (the App Key and
   * the agent's SVID keys). Still at most 2 objects of ours in the TPM: every key is loaded once
   * under the primary and parked as a saved context; then the AK is loaded, quotes, and certifies
   * each key in turn, which is context-loaded for its TPM2_Certify and flushed right after.
   */
  public MultiEvidence quoteAndCertifyAll(KeyBlob ak, byte[] nonce, PcrSelection selection, List<ToCertify> keys)
      throws IOException, TpmException {
    try (Scope s = new Scope()) {
      List<byte[]> contexts = savedContexts(s, keys.stream().map(ToCertify::key).toList());
      int akHandle = loadAk(s, ak);
      KeylimeQuote quote = null;
      if (nonce != null) {
        quote = quoteLoaded(akHandle, ak.publicArea(), nonce, selection);
      }
      List<AttestResponse> certs = new ArrayList<>();
      for (int i = 0; i < keys.size(); i++) {
        int handle = s.add(tpm.execute(new ContextLoad(contexts.get(i))));
        certs.add(tpm.execute(new Certify(handle, Auth.empty(), akHandle, Auth.empty(),
            keys.get(i).qualifyingData(), signingScheme(ak.publicArea()))));
        s.flush(handle);
      }
      return new MultiEvidence(quote, certs);
    }
  }

  /** Loads each key under the storage primary (loaded once) and returns their saved contexts; nothing stays loaded. */
  private List<byte[]> savedContexts(Scope s, List<KeyBlob> keys) throws IOException, TpmException {
    List<byte[]> out = new ArrayList<>();
    if (keys.isEmpty()) {
      return out;
    }
    int parent = primary(s, srk);
    for (int i = 0; i < keys.size(); i++) {
      int handle = s.add(tpm.execute(new Load(parent, Auth.empty(), keys.get(i))).handle());
      if (i == keys.size() - 1) {
        s.flush(parent); // as soon as the last key is loaded (the recorded traces expect this order)
      }
      out.add(tpm.execute(new ContextSave(handle)));
      s.flush(handle);
    }
    return out;
  }

  private KeylimeQuote quoteLoaded(int akHandle, TpmPublic akPublic, byte[] nonce,
      PcrSelection selection) throws IOException, TpmException {
    int hash = signingHash(akPublic);
    for (int i = 0; ; i++) {
      AttestResponse q = tpm.execute(new Quote(akHandle, Auth.empty(), nonce,
          signingScheme(akPublic), selection));
      PcrBlob blob = readPcrs(selection);
      Attest attest = Attest.parse(q.attest());
      if (attest.quote().pcrDigest().equals(Bytes.copyFrom(blob.digest(hash)))) {
        return new KeylimeQuote(q.attest(), q.signature(), Bytes.copyFrom(blob.encode()));
      }
      if (i + 1 >= QUOTE_TRIES) {
        throw new TpmVerificationException("PCRs kept changing while quoting (" + QUOTE_TRIES + " tries)");
      }
    }
  }

  private static boolean asked(List<PcrSelection.Bank> banks, int hashAlg, int pcr) {
    for (PcrSelection.Bank b : banks) {
      if (b.hashAlg() == hashAlg && b.contains(pcr)) {
        return true;
      }
    }
    return false;
  }

  /** Reads the selected PCRs (8 per TPM2_PCR_Read) into a Keylime/tpm2-tools PCR blob. */
  public PcrBlob readPcrs(PcrSelection selection) throws IOException, TpmException {
    Map<Long, Bytes> got = new LinkedHashMap<>();
    List<long[]> wanted = new ArrayList<>();
    for (PcrSelection.Bank b : selection.banks()) {
      for (int p : b.pcrs()) {
        wanted.add(new long[] {b.hashAlg(), p});
      }
    }
    while (got.size() < wanted.size()) {
      List<PcrSelection.Bank> rest = new ArrayList<>();
      for (PcrSelection.Bank b : selection.banks()) {
        byte[] sel = new byte[b.select().size()];
        for (int p : b.pcrs()) {
          if (!got.containsKey(key(b.hashAlg(), p))) {
            sel[p / 8] |= (byte) (1 << (p % 8));
          }
        }
        rest.add(new PcrSelection.Bank(b.hashAlg(), sel));
      }
      PcrRead.Response r = tpm.execute(new PcrRead(new PcrSelection(rest)));
      if (r.values().isEmpty()) {
        throw new TpmFormatException("the TPM returned no values for PCRs " + rest
            + " (is that PCR bank allocated?)");
      }
      // each round must bring PCRs that were asked for and not yet read, or the loop would never end
      int before = got.size();
      int i = 0;
      for (PcrSelection.Bank b : r.selectionOut().banks()) {
        for (int p : b.pcrs()) {
          if (i >= r.values().size() || !asked(rest, b.hashAlg(), p) || got.containsKey(key(b.hashAlg(), p))) {
            throw new TpmFormatException("PCR_Read answered " + r.selectionOut() + " with " + r.values().size()
                + " values to a request for " + rest);
          }
          got.put(key(b.hashAlg(), p), r.values().get(i++));
        }
      }
      if (got.size() == before) {
        throw new TpmFormatException("PCR_Read returned none of the PCRs " + rest + " still to read");
      }
    }
    List<Bytes> values = new ArrayList<>();
    for (long[] w : wanted) {
      Bytes v = got.get(key((int) w[0], (int) w[1]));
      if (v == null) {
        throw new TpmFormatException("PCR_Read did not return a requested PCR");
      }
      values.add(v);
    }
    return new PcrBlob(selection, values);
  }

  private static long key(int hashAlg, int pcr) {
    return ((long) hashAlg << 32) | pcr;
  }

  /** Transient object handles currently loaded in the TPM (by anyone). */
  public List<Integer> transientHandles() throws IOException, TpmException {
    return tpm.execute(GetCapability.handles(Handles.HR_TRANSIENT)).handles();
  }
}
