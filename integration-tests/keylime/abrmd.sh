#!/usr/bin/env bash
# tpm2-abrmd in front of a swtpm, on a private D-Bus session bus (no system bus, no root policy
# files). Process groups are recorded under WORKDIR/pids, so stop.sh stops them too.
#
# Usage: abrmd.sh WORKDIR NAME start SWTPM_PORT   starts the bus (once) and tpm2-abrmd; prints
#                                                 DBUS_SESSION_BUS_ADDRESS=... and TCTI=... lines
#                                                 (also written to WORKDIR/NAME.env)
#        abrmd.sh WORKDIR NAME stop-abrmd         stops tpm2-abrmd only (the bus stays)
#        abrmd.sh WORKDIR NAME stop               stops tpm2-abrmd and the bus
# Needs Debian's tpm2-abrmd, libtss2-tcti-tabrmd0 and dbus (dbus-daemon, dbus-send).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ $# -ge 3 ] || die "usage: abrmd.sh WORKDIR NAME start SWTPM_PORT | stop-abrmd | stop"
WD="$(cd "$1" && pwd)"
name=$2
cmd=$3
mkdir -p "$WD/pids" "$WD/logs" "$WD/run"
# Unix socket paths must stay short: the bus socket lives under /tmp, named after the work dir.
bus="/tmp/abrmd-$(printf '%s' "$WD/$name" | sha256sum | cut -c1-12).bus"
address="unix:path=$bus"
busname="com.intel.tss2.Tabrmd"

has_owner() {
  DBUS_SESSION_BUS_ADDRESS=$address dbus-send --session --print-reply --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner "string:$busname" 2>/dev/null | grep -q "boolean true"
}

case "$cmd" in
start)
  [ $# -eq 4 ] || die "usage: abrmd.sh WORKDIR NAME start SWTPM_PORT"
  for tool in dbus-daemon dbus-send tpm2-abrmd; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install dbus tpm2-abrmd libtss2-tcti-tabrmd0)"
  done
  if [ ! -f "$WD/pids/$name-bus.pgid" ] || ! kill -0 "$(cat "$WD/pids/$name-bus.pid")" 2>/dev/null; then
    rm -f "$bus"
    start_group "$name-bus" "$WD/logs/$name-bus.log" dbus-daemon --session --nofork --nopidfile \
      --address="$address"
    for ((i = 0; i < 100; i++)); do [ -S "$bus" ] && break; sleep 0.1; done
    [ -S "$bus" ] || die "dbus-daemon did not create $bus; see $WD/logs/$name-bus.log"
  fi
  [ ! -f "$WD/pids/$name.pgid" ] || kill_group "$name"
  export DBUS_SESSION_BUS_ADDRESS=$address
  start_group "$name" "$WD/logs/$name.log" \
    tpm2-abrmd --session --allow-root --logger=stdout --tcti="swtpm:host=127.0.0.1,port=$4"
  for ((i = 0; i < 100; i++)); do
    has_owner && break
    kill -0 "$(cat "$WD/pids/$name.pid")" 2>/dev/null || { tail -n 20 "$WD/logs/$name.log" >&2; die "tpm2-abrmd exited"; }
    sleep 0.1
  done
  has_owner || { tail -n 20 "$WD/logs/$name.log" >&2; die "tpm2-abrmd did not take $busname on $address"; }
  printf 'DBUS_SESSION_BUS_ADDRESS=%s\nTCTI=tabrmd:bus_type=session\n' "$address" | tee "$WD/$name.env"
  ;;
stop-abrmd)
  kill_group "$name"
  ;;
stop)
  kill_group "$name"
  kill_group "$name-bus"
  rm -f "$bus"
  ;;
*)
  die "unknown command $cmd"
  ;;
esac
