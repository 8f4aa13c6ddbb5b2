#!/usr/bin/env bash
# Starts or stops one swtpm of a stack made by start.sh, e.g. to restart it (same state, same port)
# or to add another TPM whose EK certificate comes from the stack's swtpm-localca (so the tenant
# accepts it). The process group is recorded under WORKDIR/pids/NAME, so stop.sh stops it too.
#
# Usage: swtpm.sh WORKDIR NAME start [PORT]   prints PORT; state in WORKDIR/tpm for NAME "swtpm"
#                                             (start.sh's), else WORKDIR/tpm-NAME (made if absent).
#                                             PORT defaults to the one NAME used before, else a
#                                             free pair (PORT data, PORT+1 control).
#        swtpm.sh WORKDIR NAME stop           an orderly TPM2_Shutdown first (tpm2-tools), as at a clean
#                                             reboot: otherwise the TPM clock is not "safe" after the restart
#                                             and the Keylime verifier fails the agent's next quote
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ $# -ge 3 ] || die "usage: swtpm.sh WORKDIR NAME start [PORT] | stop"
WD="$(cd "$1" && pwd)"
name=$2
cmd=$3
[ -f "$WD/etc/swtpm_setup.conf" ] || die "$WD is not a stack made by start.sh"
state="$WD/tpm-$name"
[ "$name" != swtpm ] || state="$WD/tpm"

case "$cmd" in
stop)
  port=$(cat "$WD/$name.port" 2>/dev/null || true)
  if [ -n "$port" ] && [ -f "$WD/pids/$name.pgid" ]; then
    tpm2_shutdown -c -T "swtpm:host=127.0.0.1,port=$port" >/dev/null 2>&1 || log "TPM2_Shutdown on swtpm $name failed"
  fi
  kill_group "$name"
  ;;
start)
  port="${4:-}"
  [ -n "$port" ] || port=$(cat "$WD/$name.port" 2>/dev/null || true)
  if [ -z "$port" ] && [ "$name" = swtpm ]; then
    port=$(sed -n 's/^SWTPM_PORT=//p' "$WD/stack.env")
  fi
  [ -n "$port" ] || port=$(free_port 2)
  if [ ! -d "$state" ]; then
    mkdir -p "$state"
    swtpm_setup --tpm2 --tpmstate "$state" --config "$WD/etc/swtpm_setup.conf" \
      --create-ek-cert --create-platform-cert --lock-nvram --overwrite \
      --logfile "$WD/logs/swtpm_setup-$name.log" >/dev/null 2>>"$WD/logs/swtpm_setup-$name.log" \
      || { tail -n 30 "$WD/logs/swtpm_setup-$name.log" >&2; die "swtpm_setup failed for $name"; }
  fi
  if [ -f "$WD/pids/$name.pid" ] && kill -0 "$(cat "$WD/pids/$name.pid")" 2>/dev/null; then
    echo "$port" >"$WD/$name.port"
    echo "$port" # already running
    exit 0
  fi
  start_group "$name" "$WD/logs/$name.log" swtpm socket --tpm2 --tpmstate "dir=$state" \
    --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
    --flags not-need-init,startup-clear
  wait_port "$port" 10 "$WD/pids/$name.pid" "$WD/logs/$name.log" || die "swtpm $name did not start"
  echo "$port" >"$WD/$name.port"
  echo "$port"
  ;;
*)
  die "unknown command $cmd"
  ;;
esac
