package io.github.keylimeattestor.keylime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The client certificate chain and key from the {@code client_cert} and {@code client_key} files,
 * accepting the common combined PEM forms: the chain (leaf + intermediates) in either file, and the
 * key beside the certificates in one file used for both. The leaf is the certificate whose public
 * key matches the private key; the rest is ordered by issuer from it. Anything else (two keys, no
 * matching certificate, a certificate outside the chain) is refused with a message saying what
 * each file holds and what belongs where.
 */
record ClientCredentials(List<X509Certificate> chain, PrivateKey key) {

  static ClientCredentials load(Path certFile, Path keyFile, char[] password, TlsKeys keys) throws IOException {
    Pem.Contents certs = Pem.readContents(readable(certFile, keys.clientCert()));
    Pem.Contents keyContents = Files.isSameFile(certFile, readable(keyFile, keys.clientKey())) ? certs
        : Pem.readContents(keyFile);
    String where = keys.clientCert() + " (" + certFile + ": " + certs.describe() + ") and " + keys.clientKey() + " ("
        + keyFile + ": " + keyContents.describe() + ")";
    if (keyContents.keys().size() > 1) {
      throw new IOException(keys.clientKey() + " " + keyFile + " holds " + keyContents.keys().size()
          + " private keys; keep only the client certificate's key there");
    }
    if (keyContents.keys().isEmpty()) {
      throw new IOException("no private key in " + keys.clientKey() + " " + keyFile + " (it holds " + keyContents.describe()
          + ")" + (certs.keys().isEmpty() ? "" : "; " + keys.clientCert() + " " + certFile
          + " holds one: set " + keys.clientKey() + " to that file too, or move the key into " + keyFile));
    }
    PrivateKey key = Pem.decodeKey(keyContents.keys().get(0), keyFile.toString(), password);
    if (keyContents != certs && !certs.keys().isEmpty()) {
      // key + certificates in client_cert as well: fine if it is the same key
      PrivateKey other = certs.keys().size() == 1 ? Pem.decodeKey(certs.keys().get(0), certFile.toString(), password)
          : null;
      if (other == null || !java.util.Arrays.equals(other.getEncoded(), key.getEncoded())) {
        throw new IOException(keys.clientCert() + " " + certFile + " holds " + certs.describe() + " and "
            + keys.clientKey() + " " + keyFile + " holds another private key: keep only the client certificate's key, "
            + "in " + keys.clientKey());
      }
    }

    Map<String, X509Certificate> all = new LinkedHashMap<>(); // dedupe by encoding, keep file order
    for (X509Certificate c : certs.certificates()) {
      all.putIfAbsent(Arrays.toString(encoded(c)), c);
    }
    if (keyContents != certs) {
      for (X509Certificate c : keyContents.certificates()) {
        all.putIfAbsent(Arrays.toString(encoded(c)), c);
      }
    }
    if (all.isEmpty()) {
      throw new IOException("no certificate in " + where + ": put the client certificate (leaf first, then its "
          + "intermediate CA certificates) in " + keys.clientCert());
    }
    List<X509Certificate> rest = new ArrayList<>(all.values());
    X509Certificate leaf = null;
    for (X509Certificate c : rest) {
      if (KeyCheck.matches(key, c.getPublicKey())) {
        leaf = c;
        break;
      }
    }
    if (leaf == null) {
      throw new IOException("the private key in " + keyFile + " matches no certificate in " + where
          + ": " + keys.clientCert() + " must hold the certificate issued for that key");
    }
    rest.remove(leaf);
    List<X509Certificate> chain = new ArrayList<>(List.of(leaf));
    X509Certificate cur = leaf;
    while (!rest.isEmpty()) {
      X509Certificate next = issuerOf(cur, rest);
      if (next == null) {
        break;
      }
      chain.add(next);
      rest.remove(next);
      cur = next;
    }
    if (!rest.isEmpty()) {
      throw new IOException(where + " hold certificates that are not in the chain of the client certificate "
          + CertDescriptions.one(leaf) + ": " + CertDescriptions.subjects(rest) + "; " + keys.clientCert()
          + " takes the client certificate and its own issuing CA chain only (CA certificates that verify the "
          + "server go in " + keys.caBundle() + ")");
    }
    return new ClientCredentials(List.copyOf(chain), key);
  }

  private static Path readable(Path p, String key) throws IOException {
    if (!Files.exists(p)) {
      throw new IOException(key + ": no such file " + p);
    }
    return p;
  }

  private static X509Certificate issuerOf(X509Certificate c, List<X509Certificate> candidates) {
    if (c.getSubjectX500Principal().equals(c.getIssuerX500Principal())) {
      return null; // self-signed: the chain ends here
    }
    for (X509Certificate i : candidates) {
      if (i.getSubjectX500Principal().equals(c.getIssuerX500Principal())) {
        try {
          c.verify(i.getPublicKey());
          return i;
        } catch (java.security.GeneralSecurityException e) {
          // same name, other key: not this one
        }
      }
    }
    return null;
  }

  private static byte[] encoded(X509Certificate c) {
    try {
      return c.getEncoded();
    } catch (java.security.cert.CertificateEncodingException e) {
      throw new IllegalStateException(e);
    }
  }
}
