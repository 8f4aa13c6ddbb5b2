#!/usr/bin/env bash
# Enrols a registered Keylime agent with the verifier through the real keylime_tenant
# (`-c add`): the tenant reads the registrar record, checks the EK certificate against
# tpm_cert_store, fetches and checks an identity quote from the agent, then adds it to the
# verifier, which starts polling it.
#
# Usage: enroll.sh WORKDIR UUID [AGENT_IP] [AGENT_PORT]   (defaults 127.0.0.1 and $AGENT_PORT)
# Other tenant commands: tenant.sh WORKDIR -c cvstatus -u UUID, etc.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ $# -ge 2 ] || die "usage: enroll.sh WORKDIR UUID [AGENT_IP] [AGENT_PORT]"
WD="$(cd "$1" && pwd)"
UUID=$2
[ -s "$WD/stack.env" ] || die "no stack in $WD (run start.sh first)"
set -a; . "$WD/stack.env"; set +a
IP=${3:-127.0.0.1}
PORT=${4:-${AGENT_PORT:-}}
[ -n "$PORT" ] || die "agent port not given"
exec "$HERE/tenant.sh" "$WD" -c add -u "$UUID" -t "$IP" -tp "$PORT"
