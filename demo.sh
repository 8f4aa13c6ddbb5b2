#!/usr/bin/env bash
# The project's demo: the whole chain on 127.0.0.1, step by step with timings.
#   swtpm -> Keylime 7.14.3 verifier + registrar -> a Keylime pull agent (the project's emulator,
#   since rust-keylime is in no registry) enrolled by the real tenant -> SPIRE v1.15.3 with our two
#   plugin executables -> the node attests, re-attests, and a workload gets an X.509-SVID.
# Everything it starts is stopped when it ends (also on Ctrl-C, SIGTERM or failure); if stopping
# fails, it says so and exits non-zero. scripts/check-demo-leaves-nothing.sh (run by CI) checks that.
# Environment:
#   KEEP=1                  keep the work directory (logs, configs) for a look afterwards
#   DEMO_FAIL_AFTER_STEP=N  fail on purpose right after step N (1-9), to test the clean-up
#   DEMO_KEYLIME_AGENT=PATH a real rust-keylime keylime_agent you built, instead of the emulator (by hand, not in CI)
set -euo pipefail
umask 022 # the plugin refuses an App Key directory group or others may write (a umask of 002 makes one)
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"

t0=$(date +%s.%N)
step_start=$t0
step_no=0
step() {
  local now; now=$(date +%s.%N)
  step_no=$((step_no + 1))
  awk -v a="$now" -v b="$t0" -v c="$step_start" -v n="$step_no" -v m="$*" \
    'BEGIN { printf "[%6.1fs] (+%5.1fs) %d. %s\n", a - b, a - c, n, m }'
  step_start=$now
  if [ "${DEMO_FAIL_AFTER_STEP:-}" = "$step_no" ]; then fail "failing on purpose after step $step_no (DEMO_FAIL_AFTER_STEP)"; fi
}
fail() { echo "demo failed: $*" >&2; exit 1; }
wait_for() { # timeout-seconds description command...
  local t=$1 what=$2; shift 2
  local end=$(( $(date +%s) + t ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "timed out waiting for $what"
    # the wait builtin returns at once on a trapped signal, so Ctrl-C while polling always stops the demo
    sleep 0.3 & wait $!
  done
}

scripts/install-prereqs.sh >/dev/null
step "prerequisites installed (swtpm, tpm2-tools, SPIRE v1.15.3, Keylime 7.14.3 venv)"
./mvnw -q -B -ntp install -DskipTests -DskipITs
./mvnw -q -B -ntp -pl keylime-emulator dependency:build-classpath -Dmdep.outputFile=target/demo.cp
step "plugins built: keylime-attestor-agent $(cut -c1-12 plugin-agent/target/keylime-attestor-agent.sha256)..., keylime-attestor-server $(cut -c1-12 plugin-server/target/keylime-attestor-server.sha256)..."

bin="$(go env GOPATH)/bin"
work=$(mktemp -d /tmp/keylime-attestor-demo.XXXXXX)
pids=() # each the leader of its own process group (started with setsid), so plugins go with it
cleaned=""
cleanup() {
  local rc=$? left="" p i
  [ -z "$cleaned" ] || return 0
  cleaned=1
  trap '' INT TERM HUP # a second Ctrl-C must not cut the clean-up short: what it stops runs in its own sessions
  for p in "${pids[@]}"; do kill -TERM -- "-$p" "$p" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do # up to 10 s, then SIGKILL
    left=""
    for p in "${pids[@]}"; do kill -0 -- "-$p" 2>/dev/null && left="$left $p"; done
    [ -n "$left" ] || break
    sleep 0.1
  done
  for p in $left; do kill -KILL -- "-$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # rust-keylime mounts a tmpfs at <keylime_dir>/secure and leaves it mounted when it stops
  if mountpoint -q "$work/keylime-agent/secure" 2>/dev/null && ! umount "$work/keylime-agent/secure"; then
    echo "demo: could not unmount $work/keylime-agent/secure (the Keylime agent's tmpfs)" >&2
    KEEP=1
    [ "$rc" -ne 0 ] || rc=1
  fi
  if ! "$root/integration-tests/keylime/stop.sh" "$work/keylime" >"$work/keylime-stop.log" 2>&1; then
    echo "demo: stopping the Keylime stack failed; see $work/keylime-stop.log" >&2
    KEEP=1
    [ "$rc" -ne 0 ] || rc=1
  fi
  if [ -n "${KEEP:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

integration-tests/keylime/start.sh "$work/keylime" > "$work/keylime-start.log" 2>&1 || { cat "$work/keylime-start.log"; fail "Keylime stack"; }
# shellcheck disable=SC1091
. "$work/keylime/stack.env"
step "TPM (swtpm on :$SWTPM_PORT) and Keylime up: verifier $VERIFIER_URL, registrar $REGISTRAR_URL"

uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
kport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
kdir="$work/keylime-agent"
mkdir -p "$kdir"
if [ -n "${DEMO_KEYLIME_AGENT:-}" ]; then
  # a real rust-keylime pull agent you built (cargo build --release --bin keylime_agent), on the same swtpm
  [ -x "$DEMO_KEYLIME_AGENT" ] || fail "DEMO_KEYLIME_AGENT=$DEMO_KEYLIME_AGENT is not an executable file"
  cat > "$work/keylime-agent.conf" <<CONF
[agent]
uuid = "$uuid"
ip = "127.0.0.1"
port = $kport
contact_ip = "127.0.0.1"
contact_port = $kport
registrar_ip = "127.0.0.1"
registrar_port = $REGISTRAR_PORT
keylime_dir = "$kdir"
trusted_client_ca = "$KEYLIME_CA_CERT, $SPIRE_CLIENT_CA_CERT"
enable_revocation_notifications = false
run_as = ""
CONF
  (cd "$kdir" && exec setsid env KEYLIME_AGENT_CONFIG="$work/keylime-agent.conf" TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT" \
    RUST_LOG=keylime_agent=info "$DEMO_KEYLIME_AGENT" > "$work/keylime-agent.log" 2>&1) &
  pids+=($!)
  wait_for 60 "the Keylime agent to register" grep -q "Listening on" "$work/keylime-agent.log"
else
  setsid java -cp "keylime-emulator/target/classes:$(cat keylime-emulator/target/demo.cp)" \
    io.github.keylimeattestor.keylime.emulator.KeylimeAgentEmulator --uuid "$uuid" \
    --tcti "swtpm:host=127.0.0.1,port=$SWTPM_PORT" --registrar "$REGISTRAR_HTTP_URL" --ip 127.0.0.1 --port "$kport" \
    --keylime-dir "$kdir" --trusted-client-ca "$KEYLIME_CA_CERT" --trusted-client-ca "$SPIRE_CLIENT_CA_CERT" \
    > "$work/keylime-agent.log" 2>&1 &
  pids+=($!)
  wait_for 60 "the Keylime agent to register" grep -q "serving $uuid" "$work/keylime-agent.log"
fi
integration-tests/keylime/enroll.sh "$work/keylime" "$uuid" 127.0.0.1 "$kport" > "$work/enroll.log" 2>&1 || { cat "$work/enroll.log"; fail "enrolment"; }
verifier_says() { # prints operational_state and attestation_status, read with the SPIRE plugin's client cert
  python3 - "$VERIFIER_URL" "$uuid" "$KEYLIME_CA_CERT" "$SPIRE_CLIENT_CERT" "$SPIRE_CLIENT_KEY" <<'PY'
import json, ssl, sys, urllib.request
url, uuid, ca, cert, key = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
r = json.load(urllib.request.urlopen(f"{url}/v2.6/agents/{uuid}", context=ctx, timeout=5))["results"]
print(r["operational_state"], r.get("attestation_status"))
PY
}
verifier_passes() { verifier_says | grep -q PASS; }
wait_for 60 "the verifier's first PASS" verifier_passes
step "Keylime agent $uuid registered, enrolled by keylime_tenant; verifier says: $(verifier_says)"

sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/spire/data/server" "$work/spire/data/agent"
cd "$work/spire"
cat > server.conf <<CONF
server {
  bind_address = "127.0.0.1"
  bind_port = "$sport"
  socket_path = "$work/spire/server.sock"
  trust_domain = "example.org"
  data_dir = "./data/server"
  log_level = "INFO"
  agent_ttl = "10s"
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "./data/server/datastore.sqlite3"
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "keylime" {
    plugin_cmd = "$root/plugin-server/target/keylime-attestor-server"
    plugin_checksum = "$(cut -d' ' -f1 "$root/plugin-server/target/keylime-attestor-server.sha256")"
    plugin_data {
      registrar_urls = ["$REGISTRAR_URL"]
      verifier_urls = ["$VERIFIER_URL"]
      tls {
        ca_bundle = "$KEYLIME_CA_CERT"
        client_cert = "$SPIRE_CLIENT_CERT"
        client_key = "$SPIRE_CLIENT_KEY"
      }
      ek_ca_bundle = "$EK_CA_BUNDLE"
      require_ek_cert = true
      attestation_policy {
        max_attestation_age = "60s"
      }
    }
  }
}
CONF
TMPDIR="$work" setsid "$bin/spire-server" run -config server.conf > server.log 2>&1 & # its plugins' sockets too: removed with $work
pids+=($!)
wait_for 60 "spire-server" "$bin/spire-server" healthcheck -socketPath "$work/spire/server.sock"
"$bin/spire-server" bundle show -socketPath "$work/spire/server.sock" > bundle.pem
cat > agent.conf <<CONF
agent {
  data_dir = "./data/agent"
  log_level = "DEBUG"
  server_address = "127.0.0.1"
  server_port = "$sport"
  socket_path = "$work/spire/agent.sock"
  trust_domain = "example.org"
  trust_bundle_path = "./bundle.pem"
}
plugins {
  KeyManager "disk" {
    plugin_data {
      directory = "./data/agent"
    }
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
  NodeAttestor "keylime" {
    plugin_cmd = "$root/plugin-agent/target/keylime-attestor-agent"
    plugin_checksum = "$(cut -d' ' -f1 "$root/plugin-agent/target/keylime-attestor-agent.sha256")"
    plugin_data {
      tcti = "swtpm:host=127.0.0.1,port=$SWTPM_PORT"
      agent_data_path = "$kdir/agent_data.json"
      keylime_agent_uuid = "$uuid"
      app_key_path = "./data/agent/keylime-app-key.blob"
    }
  }
}
CONF
TMPDIR="$work" setsid "$bin/spire-agent" run -config agent.conf > agent.log 2>&1 &
pids+=($!)
step "SPIRE server and agent up with the keylime plugins (checksums verified by SPIRE)"

wait_for 90 "attestation" grep -q "Node attestation was successful" agent.log
step "node attested: spiffe://example.org/spire/agent/keylime/$uuid"
"$bin/spire-server" agent show -socketPath "$work/spire/server.sock" -spiffeID "spiffe://example.org/spire/agent/keylime/$uuid" \
  | grep -E "Selectors|Can re-attest" | sed 's/^/           /'
wait_for 60 "re-attestation" grep -q "Successfully reattested node" agent.log
step "re-attested (agent_ttl 10s): fresh TPM quote, App Key certification, Keylime status checked again"
reattested_twice() { [ "$(grep -c "Successfully reattested node" agent.log)" -ge 2 ]; }
wait_for 60 "a second re-attestation" reattested_twice
step "re-attested again"

"$bin/spire-server" entry create -socketPath "$work/spire/server.sock" -node -spiffeID spiffe://example.org/keylime-nodes \
  -selector "keylime:uuid:$uuid" > /dev/null
"$bin/spire-server" entry create -socketPath "$work/spire/server.sock" -parentID spiffe://example.org/keylime-nodes \
  -spiffeID spiffe://example.org/demo-workload -selector "unix:uid:$(id -u)" > /dev/null
workload_svid() { "$bin/spire-agent" api fetch x509 -socketPath "$work/spire/agent.sock" | grep -q demo-workload; }
wait_for 60 "the workload SVID" workload_svid
step "workload SVID: $("$bin/spire-agent" api fetch x509 -socketPath "$work/spire/agent.sock" | grep 'SPIFFE ID' | head -1 | tr -s ' ')"
echo "the Keylime verifier never called SPIRE or the plugins: they listen on nothing but their SPIRE Unix sockets"
