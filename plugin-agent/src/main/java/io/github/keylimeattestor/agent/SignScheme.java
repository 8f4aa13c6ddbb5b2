package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.proto.spire.agent.keymanager.HashAlgorithm;
import io.github.keylimeattestor.proto.spire.agent.keymanager.SignDataRequest;
import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.structure.TpmPublic;
import io.github.keylimeattestor.tpm.structure.TpmPublic.Scheme;
import io.github.keylimeattestor.tpm.structure.TpmSignature;
import io.grpc.Status;
import io.grpc.StatusException;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;

/**
 * SPIRE's signer options mapped onto a TPM2_Sign scheme, and the TPM's signature back into what Go's
 * crypto.Signer returns: ASN.1 DER (r, s) for ECDSA, the raw signature for RSA.
 */
final class SignScheme {
  private SignScheme() {}

  static Scheme of(TpmPublic key, SignDataRequest req) throws StatusException {
    switch (req.getSignerOptsCase()) {
      case HASH_ALGORITHM: {
        int hash = hash(req.getHashAlgorithm());
        return Scheme.of(key.type() == Alg.ECC ? Alg.ECDSA : Alg.RSASSA, hash);
      }
      case PSS_OPTIONS: {
        if (key.type() != Alg.RSA) {
          throw invalid("PSS options are for RSA keys; this key is ECDSA");
        }
        if (req.getPssOptions().getHashAlgorithm() == HashAlgorithm.UNSPECIFIED_HASH_ALGORITHM) {
          throw invalid("hash algorithm in PSS options is required");
        }
        int hash = hash(req.getPssOptions().getHashAlgorithm());
        int salt = req.getPssOptions().getSaltLength();
        // the TPM's RSASSA-PSS salt is the digest length: Go's PSSSaltLengthAuto (0) and EqualsHash (-1) accept it
        if (salt != 0 && salt != -1 && salt != size(hash)) {
          throw invalid("the TPM signs RSASSA-PSS with a salt as long as the digest (" + size(hash)
              + " bytes), not " + salt);
        }
        return Scheme.of(Alg.RSAPSS, hash);
      }
      default:
        throw invalid("signer opts is required");
    }
  }

  static int size(int hash) {
    try {
      return Alg.digestSize(hash);
    } catch (io.github.keylimeattestor.tpm.TpmFormatException e) {
      throw new IllegalStateException(e);
    }
  }

  static String name(int hash) {
    try {
      return Alg.javaDigestName(hash);
    } catch (io.github.keylimeattestor.tpm.TpmFormatException e) {
      throw new IllegalStateException(e);
    }
  }

  private static int hash(HashAlgorithm h) throws StatusException {
    return switch (h) {
      case SHA256 -> Alg.SHA256;
      case SHA384 -> Alg.SHA384;
      case SHA512 -> Alg.SHA512;
      case UNSPECIFIED_HASH_ALGORITHM -> throw invalid("hash algorithm is required");
      default -> throw invalid("hash algorithm " + h + " is not one the TPM signs with (SHA256, SHA384, SHA512)");
    };
  }

  private static StatusException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asException();
  }

  static byte[] encode(TpmSignature sig) {
    if (sig.sigAlg() != Alg.ECDSA) {
      return sig.rsaSignature().toByteArray();
    }
    byte[] r = derInteger(sig.r().toByteArray());
    byte[] s = derInteger(sig.s().toByteArray());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0x30);
    length(out, r.length + s.length);
    out.writeBytes(r);
    out.writeBytes(s);
    return out.toByteArray();
  }

  private static byte[] derInteger(byte[] unsigned) {
    byte[] v = new BigInteger(1, unsigned).toByteArray(); // minimal two's complement, positive
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0x02);
    length(out, v.length);
    out.writeBytes(v);
    return out.toByteArray();
  }

  private static void length(ByteArrayOutputStream out, int n) {
    if (n < 0x80) {
      out.write(n);
    } else {
      out.write(0x81);
      out.write(n);
    }
  }
}
