"""An HTTPS server on Python's ssl (OpenSSL), configured as Keylime's web_util.generate_tls_context
configures the verifier and registrar: create_default_context(CLIENT_AUTH), TLS >= 1.2,
load_cert_chain, one load_verify_locations per trusted_client_ca file, CERT_REQUIRED.
Answers GET /version like a Keylime verifier. Prints the port on stdout, then serves until stdin closes.

usage: openssl_https_server.py CERT_CHAIN KEY [CA_FILE ...]
"""
import http.server
import json
import ssl
import sys
import threading


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
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    print(httpd.server_address[1], flush=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sys.stdin.read()  # the test closes stdin (or dies) to stop us
    httpd.shutdown()


if __name__ == "__main__":
    main()
