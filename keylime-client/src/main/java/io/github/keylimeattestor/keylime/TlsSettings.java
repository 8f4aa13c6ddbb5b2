package io.github.keylimeattestor.keylime;

import java.io.IOException;
import java.net.IDN;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * How to authenticate to a Keylime component over TLS: the CA certificates that may issue the
 * server's certificate, an optional client certificate and key (PEM), and an optional
 * server name (e.g. {@code tls.server_name}) against which the server certificate is checked instead of the host
 * dialled.
 *
 * <p>There is deliberately no way to turn certificate or host-name verification off. Instances are
 * immutable and safe to share.
 */
public final class TlsSettings {

  private static final Pattern DNS_NAME =
      Pattern.compile(
          "(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?");

  private final List<X509Certificate> trustAnchors;
  private final List<X509Certificate> clientChain; // empty if no client certificate
  private final PrivateKey clientKey; // null if no client certificate
  private final String serverName; // null: check against the host dialled
  private final TlsKeys keys;
  private final X509ExtendedTrustManager pkix;
  private final SingleClientKeyManager keyManager;

  private TlsSettings(Builder b) throws IOException {
    this.keys = b.keys;
    List<X509Certificate> trust = new ArrayList<>(b.trust);
    for (Path p : b.caBundles) {
      trust.addAll(readCaBundle(p, keys));
    }
    if (trust.isEmpty()) {
      throw new IOException("no CA certificate configured to verify the Keylime server with (" + keys.caBundle() + ")");
    }
    this.trustAnchors = List.copyOf(trust);
    if (b.clientCertFile != null) {
      ClientCredentials cc = ClientCredentials.load(b.clientCertFile, b.clientKeyFile, b.keyPassword, keys);
      this.clientChain = cc.chain();
      this.clientKey = cc.key();
    } else {
      this.clientChain = List.copyOf(b.clientChain);
      this.clientKey = b.clientKey;
      if (clientKey != null && !KeyCheck.matches(clientKey, clientChain.get(0).getPublicKey())) {
        throw new IOException("the client private key does not match the client certificate in " + b.clientWhat);
      }
    }
    this.serverName = b.serverName;
    try {
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      int i = 0;
      for (X509Certificate c : trustAnchors) {
        ks.setCertificateEntry("ca-" + i++, c);
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(ks);
      X509ExtendedTrustManager delegate = null;
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509ExtendedTrustManager x) {
          delegate = x;
        }
      }
      if (delegate == null) {
        throw new IOException("the JDK offers no PKIX X509ExtendedTrustManager");
      }
      this.pkix = delegate;
      this.keyManager = new SingleClientKeyManager(clientChain, clientKey);
      newSslContext(() -> {}); // fail here, at configuration, if the JDK cannot set up TLS
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot set up TLS: " + e.getMessage(), e);
    }
  }

  /**
   * A new TLS context on these settings, for one transport: its own client session cache (so
   * connections to one server resume its sessions), and {@code onFullHandshake} run at every
   * server certificate check, which a full handshake does and a resumed one skips.
   */
  SSLContext newSslContext(Runnable onFullHandshake) throws GeneralSecurityException {
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(
        new KeyManager[] {keyManager},
        new TrustManager[] {new DiagnosingTrustManager(pkix, trustAnchors, serverName, keys, onFullHandshake)},
        new SecureRandom());
    return ctx;
  }

  /**
   * Equal when they say the same: trust anchors, client chain and key, server name, setting names.
   * A client may keep its connections while the files it was built from still read the same.
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof TlsSettings t
        && trustAnchors.equals(t.trustAnchors)
        && clientChain.equals(t.clientChain)
        && (clientKey == null ? t.clientKey == null : t.clientKey != null
            && java.security.MessageDigest.isEqual(clientKey.getEncoded(), t.clientKey.getEncoded()))
        && java.util.Objects.equals(serverName, t.serverName)
        && keys.equals(t.keys);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(trustAnchors, clientChain, serverName, keys);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The last client-certificate request seen from the server at {@code host}:{@code port}, or null. */
  SingleClientKeyManager.CertificateRequest lastCertificateRequest(String host, int port) {
    return keyManager.lastRequest(host, port);
  }

  /** SSL parameters for {@link java.net.http.HttpClient}: TLS 1.3/1.2, SNI = the configured server name. */
  SSLParameters sslParameters() {
    SSLParameters p = new SSLParameters();
    p.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
    if (serverName != null) {
      // java.net.http checks the server certificate against the SNI name when one is set.
      p.setServerNames(List.of(new SNIHostName(serverName)));
    }
    return p;
  }

  public List<X509Certificate> trustAnchors() {
    return trustAnchors;
  }

  /** The configured client certificate chain (leaf first); empty if none. */
  public List<X509Certificate> clientCertificateChain() {
    return clientChain;
  }

  public Optional<String> serverName() {
    return Optional.ofNullable(serverName);
  }

  /** The configuration keys error messages name. */
  public TlsKeys keys() {
    return keys;
  }

  private static List<X509Certificate> readCaBundle(Path p, TlsKeys keys) throws IOException {
    if (!java.nio.file.Files.exists(p)) {
      throw new IOException(keys.caBundle() + ": no such file " + p);
    }
    Pem.Contents c = Pem.readContents(p);
    if (!c.keys().isEmpty()) {
      throw new IOException(keys.caBundle() + " " + p + " holds " + c.describe() + ": it takes only the CA "
          + "certificates that verify the server; a private key belongs in " + keys.clientKey());
    }
    if (c.certificates().isEmpty()) {
      throw new IOException("no certificate found in " + keys.caBundle() + " " + p);
    }
    return c.certificates();
  }

  /** Builds {@link TlsSettings}. */
  public static final class Builder {
    private final List<X509Certificate> trust = new ArrayList<>();
    private final List<Path> caBundles = new ArrayList<>();
    private final List<X509Certificate> clientChain = new ArrayList<>();
    private PrivateKey clientKey;
    private String clientWhat;
    private Path clientCertFile;
    private Path clientKeyFile;
    private char[] keyPassword;
    private String serverName;
    private TlsKeys keys = TlsKeys.under("tls");

    private Builder() {}

    /** Adds every certificate in a PEM CA bundle as a trust anchor for the server certificate. */
    public Builder caBundle(Path pemFile) throws IOException {
      caBundles.add(pemFile); // read by build(), so that its messages name the configured keys
      return this;
    }

    /** The configuration keys that messages name (default {@code tls.ca_bundle}, ...). */
    public Builder keys(TlsKeys k) {
      keys = java.util.Objects.requireNonNull(k);
      return this;
    }

    /** Adds certificates as trust anchors (e.g. an agent's pinned self-signed mTLS certificate). */
    public Builder trust(List<X509Certificate> certificates) {
      trust.addAll(certificates);
      return this;
    }

    /**
     * The client certificate (PEM; a chain is allowed) and its private key (PEM: PKCS#8, SEC1 or
     * PKCS#1; encrypted if {@code keyPassword} is given). Combined files are accepted: the chain
     * may sit in the key file, and the key beside the certificates when both keys name one file.
     */
    public Builder clientCertificate(Path certPem, Path keyPem, char[] keyPassword)
        throws IOException {
      clientChain.clear();
      clientKey = null;
      clientCertFile = certPem;
      clientKeyFile = keyPem;
      this.keyPassword = keyPassword;
      return this;
    }

    public Builder clientCertificate(List<X509Certificate> chain, PrivateKey key, String what) {
      if (chain.isEmpty() || key == null) {
        throw new IllegalArgumentException("client certificate chain and key are required");
      }
      clientChain.clear();
      clientChain.addAll(chain);
      clientKey = key;
      clientWhat = what;
      clientCertFile = null;
      clientKeyFile = null;
      return this;
    }

    /**
     * Verify the server certificate against this DNS name (sent as SNI) instead of the host in the
     * URL. Keylime's generated server certificates name {@code localhost} and the listen IP.
     */
    public Builder serverName(String name) {
      if (name == null || name.isBlank()) {
        serverName = null;
        return this;
      }
      String ascii = IDN.toASCII(name.trim());
      if (!DNS_NAME.matcher(ascii).matches() || ascii.matches("[0-9.]+") || ascii.contains(":")) {
        throw new IllegalArgumentException(
            "server_name must be a DNS name (IP addresses cannot be sent as SNI): '" + name + "'");
      }
      serverName = ascii.endsWith(".") ? ascii.substring(0, ascii.length() - 1) : ascii;
      return this;
    }

    public TlsSettings build() throws IOException {
      return new TlsSettings(this);
    }
  }

  @Override
  public String toString() {
    return "TlsSettings{trust="
        + Arrays.toString(trustAnchors.stream().map(c -> c.getSubjectX500Principal().getName()).toArray())
        + ", client="
        + (clientChain.isEmpty() ? "none" : clientChain.get(0).getSubjectX500Principal().getName())
        + ", serverName="
        + serverName
        + "}";
  }
}
