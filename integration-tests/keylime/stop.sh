#!/usr/bin/env bash
# Stops every process group start.sh (and enroll/emulator helpers) recorded under WORKDIR/pids:
# SIGTERM, then SIGKILL after STOP_GRACE_S (default 2) seconds. Safe to call repeatedly and after
# a failed start. Removes WORKDIR/stack.env so the directory can be reused.
#
# Usage: stop.sh WORKDIR
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ $# -eq 1 ] || die "usage: stop.sh WORKDIR"
[ -d "$1" ] || exit 0
WD="$(cd "$1" && pwd)"
[ -d "$WD/pids" ] || { rm -f "$WD/stack.env"; exit 0; }
# agents first (they talk to the others), then registrar, verifier, swtpm last
order=()
for f in "$WD"/pids/*.pgid "$WD"/pids/*.pid; do
  [ -e "$f" ] || continue
  n=$(basename "$f"); n=${n%.pgid}; n=${n%.pid}
  case " ${order[*]} " in *" $n "*) continue ;; esac
  case "$n" in registrar|verifier|swtpm) ;; *) order+=("$n") ;; esac
done
order+=(registrar verifier swtpm)
for n in "${order[@]}"; do
  kill_group "$n"
done
rm -f "$WD/stack.env"
