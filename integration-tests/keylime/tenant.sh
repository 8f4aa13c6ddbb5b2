#!/usr/bin/env bash
# Runs keylime_tenant against the stack in WORKDIR with its configuration and KEYLIME_DIR.
# Usage: tenant.sh WORKDIR ARGS...   e.g. tenant.sh /tmp/stack -c cvstatus -u UUID
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ $# -ge 1 ] || die "usage: tenant.sh WORKDIR ARGS..."
WD="$(cd "$1" && pwd)"; shift
[ -s "$WD/stack.env" ] || die "no stack in $WD (run start.sh first)"
set -a; . "$WD/stack.env"; set +a
export XDG_RUNTIME_DIR="$WD/run" TMPDIR="$WD/run"
cd "$KEYLIME_DIR"
exec "$KEYLIME_VENV/bin/keylime_tenant" "$@"
