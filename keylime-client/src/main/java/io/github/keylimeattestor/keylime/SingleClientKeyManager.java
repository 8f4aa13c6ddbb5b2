package io.github.keylimeattestor.keylime;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * Offers the one configured client certificate (if any) whenever a server asks for one, even if
 * the server's list of acceptable issuers does not include its issuer. The JDK's own key managers
 * would silently send no certificate in that case, and Keylime (which asks for certificates
 * optionally) would then answer a vague 403; sending it lets the server refuse it in the
 * handshake, which this client reports precisely.
 *
 * <p>It also notes, per server port, when the server last asked for a client certificate and which
 * issuers it named. Under TLS 1.3 a server refuses a client certificate only after the client
 * considers the handshake complete, and the refusal may then reach the client as a bare end of
 * stream; this note lets the error say what most likely happened.
 */
final class SingleClientKeyManager extends X509ExtendedKeyManager {
  private static final String ALIAS = "client";

  /** A server's request for a client certificate. */
  record CertificateRequest(long nanoTime, boolean certificateSent, List<String> issuers) {}

  private final X509Certificate[] chain; // empty: no client certificate configured
  private final PrivateKey key;
  private final Map<String, CertificateRequest> requests = new ConcurrentHashMap<>();

  SingleClientKeyManager(List<X509Certificate> chain, PrivateKey key) {
    this.chain = chain.toArray(new X509Certificate[0]);
    this.key = key;
  }

  /** The last certificate request from the server at {@code host}:{@code port}, or null. */
  CertificateRequest lastRequest(String host, int port) {
    return requests.get(peer(host, port));
  }

  /** One key per server: two Keylime hosts on one port (failover) must not answer for each other. */
  static String peer(String host, int port) {
    String h = host == null ? "" : host.toLowerCase(java.util.Locale.ROOT);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    return h + "#" + port;
  }

  private String choose(Principal[] issuers, String host, int port) {
    boolean have = key != null;
    requests.put(
        peer(host, port),
        new CertificateRequest(
            System.nanoTime(),
            have,
            issuers == null ? List.of() : Arrays.stream(issuers).map(Principal::getName).toList()));
    return have ? ALIAS : null;
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    return choose(issuers, engine == null ? null : engine.getPeerHost(), engine == null ? -1 : engine.getPeerPort());
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    // getHostString: no reverse lookup
    return choose(issuers, socket != null && socket.getRemoteSocketAddress() instanceof java.net.InetSocketAddress a
        ? a.getHostString() : null, socket == null ? -1 : socket.getPort());
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return key == null ? null : new String[] {ALIAS};
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    return key != null && ALIAS.equals(alias) ? chain.clone() : null;
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    return key != null && ALIAS.equals(alias) ? key : null;
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return null;
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return null;
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return null;
  }
}
