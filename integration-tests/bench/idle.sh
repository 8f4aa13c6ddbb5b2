#!/usr/bin/env bash
# Idle CPU of both plugin executables (issue 12): each started and configured as SPIRE does (handshake,
# broker stream, Init, Configure) by a Java go-plugin host, then its CPU time and wake-ups per thread
# over N seconds (default 60) of idling between attestations.
#   integration-tests/bench/idle.sh [N]
#   KEYLIME_ATTESTOR_JAVA_OPTS=... integration-tests/bench/idle.sh 30   # with other JVM options
# Not a test: it prints figures. Works on copies of the executables, so target/ is left as built.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${1:-60}
. integration-tests/bench/lib.sh
build_bench
work=$(mktemp -d /tmp/idle-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp plugin-agent/target/keylime-attestor-agent plugin-server/target/keylime-attestor-server "$work/"
write_plugin_configs "$work"
run_stoppable java -cp "$(bench_cp)" io.github.keylimeattestor.it.IdleCpu "$n" \
  "$work/keylime-attestor-agent=$work/agent.hcl" "$work/keylime-attestor-server=$work/server.hcl"
