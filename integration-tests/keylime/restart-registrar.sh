#!/usr/bin/env bash
# Restarts the registrar of a running stack with other TLS files, for tests of TLS failures that
# need Keylime itself to serve or trust something else. The stack must have been started with
# STACK_TLS_EXTRA_CA and STACK_REGISTRAR_SERVER_CERT/KEY (start.sh); the verifier keeps running.
#
# Usage: restart-registrar.sh WORKDIR [--server-cert PEM --server-key PEM] [--extra-ca PEM]
#   --server-cert/--server-key  the registrar's server certificate (leaf first) and key
#   --extra-ca                  the external CA(s) in the registrar's trusted_client_ca
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ $# -ge 1 ] || die "usage: restart-registrar.sh WORKDIR [--server-cert PEM --server-key PEM] [--extra-ca PEM]"
WD="$(cd "$1" && pwd)"; shift
[ -s "$WD/stack.env" ] || die "no stack in $WD (run start.sh first)"
set -a; . "$WD/stack.env"; set +a
CV_CA="$KEYLIME_DIR/cv_ca"
grep -q '^server_cert = registrar-server-cert.crt' "$KEYLIME_REGISTRAR_CONFIG" \
  || die "the stack was not started with STACK_REGISTRAR_SERVER_CERT"
while [ $# -gt 0 ]; do
  case "$1" in
    --server-cert) cp "$2" "$CV_CA/registrar-server-cert.crt"; shift 2 ;;
    --server-key) cp "$2" "$CV_CA/registrar-server-key.pem"; chmod 600 "$CV_CA/registrar-server-key.pem"; shift 2 ;;
    --extra-ca)
      [ -e "$CV_CA/extra-ca.crt" ] || die "the stack was not started with STACK_TLS_EXTRA_CA"
      cp "$2" "$CV_CA/extra-ca.crt"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
kill_group registrar
export XDG_RUNTIME_DIR="$WD/run" TMPDIR="$WD/run"
cd "$WD/kl"
start_group registrar "$WD/logs/registrar.log" "$KEYLIME_VENV/bin/keylime_registrar"
wait_port "$REGISTRAR_TLS_PORT" 60 "$WD/pids/registrar.pid" "$WD/logs/registrar.log" || die "registrar did not restart"
wait_port "$REGISTRAR_PORT" 10 "$WD/pids/registrar.pid" "$WD/logs/registrar.log" || die "registrar did not restart"
log "registrar restarted on $REGISTRAR_TLS_PORT"
