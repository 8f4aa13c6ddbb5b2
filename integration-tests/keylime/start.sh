#!/usr/bin/env bash
# Starts a local Keylime stack on 127.0.0.1, all state under WORKDIR:
#   swtpm (EK certificate from a per-run swtpm-localca), Keylime verifier, then registrar.
# Writes WORKDIR/stack.env (ports, paths, KEYLIME_* variables) for tests, the demo and enroll.sh.
# Every process runs in its own process group recorded under WORKDIR/pids; stop.sh kills them.
#
# Usage: start.sh WORKDIR
# Optional environment:
#   KEYLIME_VENV           venv made by install.sh (default ~/.cache/keylime-attestor/venv)
#   STACK_QUOTE_INTERVAL   verifier quote_interval seconds (default 2)
#   STACK_RETRY_INTERVAL   verifier retry_interval seconds (default 1)
#   STACK_MAX_RETRIES      verifier max_retries (default 2; Keylime's default is 5)
#   STACK_EXP_BACKOFF      verifier exponential_backoff (default False)
#   STACK_VERIFIER_MODE    verifier [verifier] mode: pull (default) or push (API v3 push attestation;
#                          agents then enrol with tenant.sh ... -c add --push-model)
#   STACK_TLS_EXTRA_CA     PEM CA certificate(s) of an external PKI (e.g. its root): trusted by the
#                          verifier and registrar for client certificates, and by the verifier and
#                          tenant for server certificates, beside Keylime's own CA
#   STACK_VERIFIER_SERVER_CERT, STACK_VERIFIER_SERVER_KEY    the verifier's server certificate
#   STACK_REGISTRAR_SERVER_CERT, STACK_REGISTRAR_SERVER_KEY  and the registrar's (PEM, leaf first,
#                          then any intermediates), used instead of Keylime's generated one
# On failure it stops whatever it started and exits non-zero.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ $# -eq 1 ] || die "usage: start.sh WORKDIR"
mkdir -p "$1"
WD="$(cd "$1" && pwd)"
[ ! -s "$WD/stack.env" ] || die "$WD already holds a stack (stack.env); run stop.sh $WD first or use a fresh directory"
[ -x "$KEYLIME_VENV/bin/keylime_verifier" ] || die "no Keylime venv at $KEYLIME_VENV; run install.sh first"
for tool in swtpm swtpm_setup swtpm_localca openssl; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install swtpm swtpm-tools openssl)"
done

mkdir -p "$WD"/{etc,kl,tpm,localca,logs,pids,run,spire,tpm_cert_store}
trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed; stopping what was started"; "$HERE/stop.sh" "$WD" >/dev/null 2>&1 || true; fi' EXIT
# bash dying of a signal it has no trap for runs the EXIT trap with $? = 0: give them one
trap 'exit 130' INT
trap 'exit 143' TERM

TAKEN_PORTS=""
SWTPM_PORT=$(free_port 2); TAKEN_PORTS="$SWTPM_PORT $((SWTPM_PORT + 1))"
SWTPM_CTRL_PORT=$((SWTPM_PORT + 1))
VERIFIER_PORT=$(free_port); TAKEN_PORTS="$TAKEN_PORTS $VERIFIER_PORT"
REGISTRAR_PORT=$(free_port 2); TAKEN_PORTS="$TAKEN_PORTS $REGISTRAR_PORT $((REGISTRAR_PORT + 1))"
REGISTRAR_TLS_PORT=$((REGISTRAR_PORT + 1))
ZMQ_PORT=$(free_port); TAKEN_PORTS="$TAKEN_PORTS $ZMQ_PORT"
QUOTE_INTERVAL="${STACK_QUOTE_INTERVAL:-2}"
RETRY_INTERVAL="${STACK_RETRY_INTERVAL:-1}"
MAX_RETRIES="${STACK_MAX_RETRIES:-2}"
EXP_BACKOFF="${STACK_EXP_BACKOFF:-False}"
VERIFIER_MODE="${STACK_VERIFIER_MODE:-pull}"
case "$VERIFIER_MODE" in pull|push) ;; *) die "STACK_VERIFIER_MODE must be pull or push, not $VERIFIER_MODE" ;; esac

# ---------------------------------------------------------------- swtpm with its own local CA
cat >"$WD/etc/swtpm-localca.conf" <<CONF
statedir = $WD/localca
signingkey = $WD/localca/signkey.pem
issuercert = $WD/localca/issuercert.pem
certserial = $WD/localca/certserial
CONF
cat >"$WD/etc/swtpm-localca.options" <<CONF
--platform-manufacturer keylime-attestor
--platform-version 2.1
--platform-model swtpm
CONF
cat >"$WD/etc/swtpm_setup.conf" <<CONF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $WD/etc/swtpm-localca.conf
create_certs_tool_options = $WD/etc/swtpm-localca.options
active_pcr_banks = sha256
CONF
swtpm_setup --tpm2 --tpmstate "$WD/tpm" --config "$WD/etc/swtpm_setup.conf" \
  --create-ek-cert --create-platform-cert --lock-nvram --overwrite \
  --logfile "$WD/logs/swtpm_setup.log" >/dev/null 2>>"$WD/logs/swtpm_setup.log" \
  || { tail -n 30 "$WD/logs/swtpm_setup.log" >&2; die "swtpm_setup failed"; }
[ -s "$WD/localca/issuercert.pem" ] || die "swtpm_setup made no issuer certificate in $WD/localca"
# The tenant accepts an EK certificate whose direct issuer is in tpm_cert_store.
cp "$WD/localca/issuercert.pem" "$WD/tpm_cert_store/swtpm-localca-issuer.pem"
# Our server plugin's ek_ca_bundle: the root CA (trust anchor) and the intermediate that issues EK certs.
cat "$WD/localca/swtpm-localca-rootca-cert.pem" "$WD/localca/issuercert.pem" > "$WD/localca/ek-ca-bundle.pem"

start_group swtpm "$WD/logs/swtpm.log" swtpm socket --tpm2 --tpmstate "dir=$WD/tpm" \
  --server "type=tcp,port=$SWTPM_PORT,bindaddr=127.0.0.1" \
  --ctrl "type=tcp,port=$SWTPM_CTRL_PORT,bindaddr=127.0.0.1" \
  --flags not-need-init,startup-clear
wait_port "$SWTPM_PORT" 10 "$WD/pids/swtpm.pid" "$WD/logs/swtpm.log" || die "swtpm did not start"

# ---------------------------------------------------------------- external TLS material (optional)
EXTRA_CA_ITEM=""
TENANT_SERVER_CA=default
VERIFIER_SERVER_CERT=server-cert.crt VERIFIER_SERVER_KEY=server-private.pem
REGISTRAR_SERVER_CERT=server-cert.crt REGISTRAR_SERVER_KEY=server-private.pem
if [ -n "${STACK_TLS_EXTRA_CA:-}" ]; then
  [ -s "$STACK_TLS_EXTRA_CA" ] || die "STACK_TLS_EXTRA_CA $STACK_TLS_EXTRA_CA is not a file"
  EXTRA_CA_ITEM=', "extra-ca.crt"'
  TENANT_SERVER_CA='["cacert.crt", "extra-ca.crt"]'
fi
for v in VERIFIER REGISTRAR; do
  c="STACK_${v}_SERVER_CERT" k="STACK_${v}_SERVER_KEY"
  if [ -n "${!c:-}" ]; then
    [ -s "${!c}" ] && [ -s "${!k:-}" ] || die "$c needs $k, both files"
    lower=$(echo "$v" | tr 'A-Z' 'a-z')
    eval "${v}_SERVER_CERT=$lower-server-cert.crt ${v}_SERVER_KEY=$lower-server-key.pem"
  fi
done

# ---------------------------------------------------------------- Keylime configuration
cat >"$WD/etc/logging.conf" <<'CONF'
[logging]
version = 2.6

[loggers]
keys = root,keylime

[handlers]
keys = consoleHandler

[formatters]
keys = formatter

[formatter_formatter]
format = %(asctime)s.%(msecs)03d - %(name)s - %(levelname)s - %(message)s
datefmt = %Y-%m-%d %H:%M:%S

[logger_root]
level = INFO
handlers = consoleHandler

[handler_consoleHandler]
class = StreamHandler
level = INFO
formatter = formatter
args = (sys.stderr,)

[logger_keylime]
level = INFO
qualname = keylime
handlers =
CONF

cat >"$WD/etc/ca.conf" <<'CONF'
[ca]
version = 2.6
password = default
cert_country = US
cert_ca_name = Keylime Certificate Authority
cert_state = MA
cert_locality = Lexington
cert_organization = MITLL
cert_org_unit = 53
cert_ca_lifetime = 3650
cert_lifetime = 365
cert_bits = 2048
cert_crl_dist = http://localhost:38080/crl
CONF

# Verifier options shared by the one-off CA generation and the running verifier.
verifier_conf() { # $1 = tls section lines
  cat <<CONF
[verifier]
version = 2.6
uuid = default
ip = 127.0.0.1
port = $VERIFIER_PORT
registrar_ip = 127.0.0.1
registrar_port = $REGISTRAR_TLS_PORT
enable_agent_mtls = True
$1
server_key_password =
client_key_password =
database_url = sqlite
database_pool_sz_ovfl = 5,10
auto_migrate_db = True
num_workers = 1
mode = $VERIFIER_MODE
quote_interval = $QUOTE_INTERVAL
retry_interval = $RETRY_INTERVAL
max_retries = $MAX_RETRIES
exponential_backoff = $EXP_BACKOFF
request_timeout = 10.0
max_upload_size = 104857600
measured_boot_policy_name = accept-all
measured_boot_imports = []
measured_boot_evaluate = once
severity_labels = ["info", "notice", "warning", "error", "critical", "alert", "emergency"]
severity_policy = [{"event_id": ".*", "severity_label": "emergency"}]
ignore_tomtou_errors = False
require_allow_list_signatures = False
durable_attestation_import =
persistent_store_url =
transparency_log_url =
time_stamp_authority_url =
time_stamp_authority_certs_path =
persistent_store_format = json
persistent_store_encoding =
transparency_log_sign_algo = sha256
signed_attributes =
shutdown_drain_timeout = 1.0
challenge_lifetime = 1800
session_lifetime = 180

[revocations]
enabled_revocation_notifications = []
zmq_ip = 127.0.0.1
zmq_port = $ZMQ_PORT
webhook_url =
CONF
}

verifier_conf "tls_dir = generate
server_key = default
server_cert = default
client_key = default
client_cert = default
trusted_client_ca = default
trusted_server_ca = default" >"$WD/etc/verifier-init.conf"

# After generation the verifier reads the same files explicitly, so that trusted_client_ca can
# list the SPIRE plugin's client CA beside Keylime's own (tls_dir = generate allows no list).
verifier_conf "tls_dir = cv_ca
server_key = $VERIFIER_SERVER_KEY
server_cert = $VERIFIER_SERVER_CERT
client_key = client-private.pem
client_cert = client-cert.crt
trusted_client_ca = [\"cacert.crt\", \"spire-client-ca.crt\"$EXTRA_CA_ITEM]
trusted_server_ca = [\"cacert.crt\"$EXTRA_CA_ITEM]" >"$WD/etc/verifier.conf"

cat >"$WD/etc/registrar.conf" <<CONF
[registrar]
version = 2.6
ip = 127.0.0.1
port = $REGISTRAR_PORT
tls_port = $REGISTRAR_TLS_PORT
tls_dir = cv_ca
server_key = $REGISTRAR_SERVER_KEY
server_key_password =
server_cert = $REGISTRAR_SERVER_CERT
trusted_client_ca = ["cacert.crt", "spire-client-ca.crt"$EXTRA_CA_ITEM]
database_url = sqlite
database_pool_sz_ovfl = 5,10
auto_migrate_db = True
durable_attestation_import =
persistent_store_url =
transparency_log_url =
time_stamp_authority_url =
time_stamp_authority_certs_path =
persistent_store_format = json
persistent_store_encoding =
transparency_log_sign_algo = sha256
signed_attributes =
tpm_identity = default
malformed_cert_action = warn
CONF

cat >"$WD/etc/tenant.conf" <<CONF
[tenant]
version = 2.6
verifier_ip = 127.0.0.1
verifier_port = $VERIFIER_PORT
registrar_ip = 127.0.0.1
registrar_port = $REGISTRAR_TLS_PORT
tls_dir = default
enable_agent_mtls = True
client_key = default
client_key_password =
client_cert = default
trusted_server_ca = $TENANT_SERVER_CA
tpm_cert_store = $WD/tpm_cert_store
max_payload_size = 1048576
accept_tpm_hash_algs = ["sha512", "sha384", "sha256"]
accept_tpm_encryption_algs = ["ecc", "rsa"]
accept_tpm_signing_algs = ["ecschnorr", "rsassa"]
ek_check_script =
mb_refstate =
require_ek_cert = True
max_retries = 5
retry_interval = 2
exponential_backoff = True
request_timeout = 10.0
CONF

export KEYLIME_DIR="$WD/kl"
export KEYLIME_VERIFIER_CONFIG="$WD/etc/verifier.conf"
export KEYLIME_REGISTRAR_CONFIG="$WD/etc/registrar.conf"
export KEYLIME_TENANT_CONFIG="$WD/etc/tenant.conf"
export KEYLIME_CA_CONFIG="$WD/etc/ca.conf"
export KEYLIME_LOGGING_CONFIG="$WD/etc/logging.conf"
export XDG_RUNTIME_DIR="$WD/run"
export TMPDIR="$WD/run"

# ---------------------------------------------------------------- TLS material
# Keylime's own CA, server and admin client certificates, made by Keylime's code exactly as the
# verifier makes them on first start with tls_dir = generate.
KEYLIME_VERIFIER_CONFIG="$WD/etc/verifier-init.conf" "$KEYLIME_VENV/bin/python" -c \
  'from keylime import web_util; web_util.init_tls_dir("verifier")' >"$WD/logs/tls-init.log" 2>&1 \
  || { tail -n 30 "$WD/logs/tls-init.log" >&2; die "could not generate Keylime's TLS directory"; }
CV_CA="$KEYLIME_DIR/cv_ca"
[ -s "$CV_CA/cacert.crt" ] && [ -s "$CV_CA/server-cert.crt" ] && [ -s "$CV_CA/client-cert.crt" ] \
  || die "Keylime's TLS directory $CV_CA is incomplete"

# A separate client CA for the SPIRE server plugin (not Keylime's admin client certificate),
# added to the verifier's and registrar's trusted_client_ca.
SP="$WD/spire"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=SPIRE Keylime plugin client CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$SP/client-ca.key" -out "$SP/client-ca.crt" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=spire-server-keylime-plugin" -keyout "$SP/client.key" -out "$SP/client.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$SP/client.ext"
openssl x509 -req -in "$SP/client.csr" -CA "$SP/client-ca.crt" -CAkey "$SP/client-ca.key" \
  -CAcreateserial -days 30 -extfile "$SP/client.ext" -out "$SP/client.crt" 2>/dev/null
cp "$SP/client-ca.crt" "$CV_CA/spire-client-ca.crt"
chmod 600 "$SP"/*.key
[ -z "${STACK_TLS_EXTRA_CA:-}" ] || cp "$STACK_TLS_EXTRA_CA" "$CV_CA/extra-ca.crt"
for v in verifier registrar; do
  c="STACK_$(echo $v | tr 'a-z' 'A-Z')_SERVER_CERT" k="STACK_$(echo $v | tr 'a-z' 'A-Z')_SERVER_KEY"
  if [ -n "${!c:-}" ]; then
    cp "${!c}" "$CV_CA/$v-server-cert.crt"
    cp "${!k}" "$CV_CA/$v-server-key.pem"
    chmod 600 "$CV_CA/$v-server-key.pem"
  fi
done

# ---------------------------------------------------------------- verifier, then registrar
cd "$WD/kl"
start_group verifier "$WD/logs/verifier.log" "$KEYLIME_VENV/bin/keylime_verifier"
wait_port "$VERIFIER_PORT" 60 "$WD/pids/verifier.pid" "$WD/logs/verifier.log" || die "verifier did not start"
start_group registrar "$WD/logs/registrar.log" "$KEYLIME_VENV/bin/keylime_registrar"
wait_port "$REGISTRAR_TLS_PORT" 60 "$WD/pids/registrar.pid" "$WD/logs/registrar.log" || die "registrar did not start"
wait_port "$REGISTRAR_PORT" 10 "$WD/pids/registrar.pid" "$WD/logs/registrar.log" || die "registrar did not start"

cat >"$WD/stack.env" <<ENV
# Written by start.sh; source it (bash) or read KEY=VALUE lines.
STACK_DIR=$WD
KEYLIME_VENV=$KEYLIME_VENV
KEYLIME_DIR=$KEYLIME_DIR
KEYLIME_VERIFIER_CONFIG=$KEYLIME_VERIFIER_CONFIG
KEYLIME_REGISTRAR_CONFIG=$KEYLIME_REGISTRAR_CONFIG
KEYLIME_TENANT_CONFIG=$KEYLIME_TENANT_CONFIG
KEYLIME_CA_CONFIG=$KEYLIME_CA_CONFIG
KEYLIME_LOGGING_CONFIG=$KEYLIME_LOGGING_CONFIG
SWTPM_HOST=127.0.0.1
SWTPM_PORT=$SWTPM_PORT
SWTPM_CTRL_PORT=$SWTPM_CTRL_PORT
VERIFIER_URL=https://127.0.0.1:$VERIFIER_PORT
VERIFIER_PORT=$VERIFIER_PORT
REGISTRAR_HTTP_URL=http://127.0.0.1:$REGISTRAR_PORT
REGISTRAR_PORT=$REGISTRAR_PORT
REGISTRAR_URL=https://127.0.0.1:$REGISTRAR_TLS_PORT
REGISTRAR_TLS_PORT=$REGISTRAR_TLS_PORT
KEYLIME_CA_CERT=$CV_CA/cacert.crt
KEYLIME_ADMIN_CLIENT_CERT=$CV_CA/client-cert.crt
KEYLIME_ADMIN_CLIENT_KEY=$CV_CA/client-private.pem
SPIRE_CLIENT_CA_CERT=$SP/client-ca.crt
SPIRE_CLIENT_CA_KEY=$SP/client-ca.key
SPIRE_CLIENT_CERT=$SP/client.crt
SPIRE_CLIENT_KEY=$SP/client.key
TPM_CERT_STORE=$WD/tpm_cert_store
SWTPM_LOCALCA_ISSUER=$WD/localca/issuercert.pem
EK_CA_BUNDLE=$WD/localca/ek-ca-bundle.pem
QUOTE_INTERVAL=$QUOTE_INTERVAL
RETRY_INTERVAL=$RETRY_INTERVAL
MAX_RETRIES=$MAX_RETRIES
VERIFIER_MODE=$VERIFIER_MODE
ENV
log "Keylime stack up in $WD: verifier $VERIFIER_PORT, registrar $REGISTRAR_PORT/$REGISTRAR_TLS_PORT, swtpm $SWTPM_PORT"
