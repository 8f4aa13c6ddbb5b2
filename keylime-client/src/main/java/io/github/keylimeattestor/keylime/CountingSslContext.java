package io.github.keylimeattestor.keylime;

import java.security.KeyManagementException;
import java.security.SecureRandom;
import java.util.Collections;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;

/**
 * An {@link SSLContext} that runs {@code onEngine} whenever {@link java.net.http.HttpClient} opens
 * a TLS connection (it makes one {@link SSLEngine} per connection) and otherwise is {@code delegate}.
 * With {@code resume} false every connection makes a full handshake: the sessions cached from earlier
 * connections are dropped before each new one (the JDK offers no switch for TLS 1.3 resumption).
 */
final class CountingSslContext extends SSLContext {

  CountingSslContext(SSLContext delegate, Runnable onEngine, boolean resume) {
    super(new Spi(delegate, onEngine, resume), delegate.getProvider(), delegate.getProtocol());
  }

  private static final class Spi extends SSLContextSpi {
    private final SSLContext delegate;
    private final Runnable onEngine;
    private final boolean resume;

    Spi(SSLContext delegate, Runnable onEngine, boolean resume) {
      this.delegate = delegate;
      this.onEngine = onEngine;
      this.resume = resume;
    }

    private void newConnection() {
      onEngine.run();
      if (!resume) {
        SSLSessionContext cache = delegate.getClientSessionContext();
        for (byte[] id : Collections.list(cache.getIds())) {
          SSLSession cached = cache.getSession(id);
          if (cached != null) {
            cached.invalidate();
          }
        }
      }
    }

    @Override
    protected void engineInit(KeyManager[] km, TrustManager[] tm, SecureRandom sr) throws KeyManagementException {
      throw new KeyManagementException("already initialised");
    }

    @Override
    protected SSLSocketFactory engineGetSocketFactory() {
      return delegate.getSocketFactory();
    }

    @Override
    protected SSLServerSocketFactory engineGetServerSocketFactory() {
      return delegate.getServerSocketFactory();
    }

    @Override
    protected SSLEngine engineCreateSSLEngine() {
      newConnection();
      return delegate.createSSLEngine();
    }

    @Override
    protected SSLEngine engineCreateSSLEngine(String host, int port) {
      newConnection();
      return delegate.createSSLEngine(host, port);
    }

    @Override
    protected SSLSessionContext engineGetServerSessionContext() {
      return delegate.getServerSessionContext();
    }

    @Override
    protected SSLSessionContext engineGetClientSessionContext() {
      return delegate.getClientSessionContext();
    }

    @Override
    protected SSLParameters engineGetDefaultSSLParameters() {
      return delegate.getDefaultSSLParameters();
    }

    @Override
    protected SSLParameters engineGetSupportedSSLParameters() {
      return delegate.getSupportedSSLParameters();
    }
  }
}
