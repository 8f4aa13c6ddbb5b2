"""An HTTPS server on Python's ssl (OpenSSL), configured as Keylime's web_util.generate_tls_context
configures the verifier and registrar: create_default_context(CLIENT_AUTH), TLS >= 1.2,
load_cert_chain, one load_verify_locations per trusted_client_ca file, CERT_REQUIRED.
Answers GET /version like a Keylime verifier. Prints the port on stdout, then serves until stdin closes.

usage: openssl_https_server.py CERT_CHAIN KEY [CA_FILE ...]
With NO_SESSION_ID_CONTEXT=1 in the environment it is set up as rust-keylime's agent sets up its
acceptor instead (keylime/src/crypto.rs, 0.2.9 and main): client verification without a session ID
context, so OpenSSL refuses every resumed handshake with an internal_error alert.
"""
import ctypes
import http.server
import json
import os
import ssl
import sys
import threading


def clear_session_id_context(ctx):
    # Python sets one ("Python") on every context and offers no way to unset it; reach the SSL_CTX
    # behind the object (PySSLContext: the object header, then SSL_CTX *) and give it none.
    libssl = ctypes.CDLL(ssl._ssl.__file__)
    ssl_ctx = ctypes.c_void_p.from_address(id(ctx) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
    f = libssl.SSL_CTX_set_session_id_context
    f.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]
    if f(ssl_ctx, b"", 0) != 1:
        sys.exit("SSL_CTX_set_session_id_context failed")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"code": 200, "status": "Success",
                           "results": {"current_version": "2.6", "supported_versions": ["2.6"]}}).encode()
        self.send_response(200 if self.path == "/version" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("request: " + (fmt % args) + "\n")


def main():
    cert, key, cas = sys.argv[1], sys.argv[2], sys.argv[3:]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.check_hostname = False
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=cert, keyfile=key)
    for ca in cas:
        ctx.load_verify_locations(cafile=ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if os.environ.get("NO_SESSION_ID_CONTEXT") == "1":
        clear_session_id_context(ctx)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    print(httpd.server_address[1], flush=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sys.stdin.read()  # the test closes stdin (or dies) to stop us
    httpd.shutdown()


if __name__ == "__main__":
    main()
