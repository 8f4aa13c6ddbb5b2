package io.github.keylimeattestor.keylime;

/**
 * What one client has sent since it was made: HTTP requests (each exchange, {@code /version}
 * included), TLS connections opened, and full TLS handshakes (the server's certificate checked; a
 * resumed session skips that). A pooled, kept-alive connection costs a request and nothing else.
 */
public record TransportCounts(long requests, long tlsConnections, long fullTlsHandshakes) {

  /** The counts since {@code earlier}. */
  public TransportCounts since(TransportCounts earlier) {
    return new TransportCounts(requests - earlier.requests, tlsConnections - earlier.tlsConnections,
        fullTlsHandshakes - earlier.fullTlsHandshakes);
  }
}
