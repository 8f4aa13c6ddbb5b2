#!/usr/bin/env bash
# Start-up benchmark of the two plugin executables (issue 2's figures): exec-to-handshake time
# (median of 10), exec to Init answered (after the broker stream, as SPIRE calls it) and RSS after Init + Configure, without and with the launcher's start-up options.
#   integration-tests/bench/startup.sh                       # JDK on PATH (17 here)
#   KEYLIME_ATTESTOR_JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java integration-tests/bench/startup.sh
#   BASELINE_DIR=/tmp/main-build integration-tests/bench/startup.sh   # also that directory's two executables
#     (e.g. main's), measured round-robin with ours in every run, so both see the same machine load
# Not a test: it prints figures. Works on copies of the executables, so target/ is left as built.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. integration-tests/bench/lib.sh
build_bench
work=$(mktemp -d /tmp/startup-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp plugin-agent/target/keylime-attestor-agent plugin-server/target/keylime-attestor-server "$work/"
agent_base= server_base=
if [ -n "${BASELINE_DIR:-}" ]; then
  mkdir "$work/baseline"
  cp "$BASELINE_DIR/keylime-attestor-agent" "$BASELINE_DIR/keylime-attestor-server" "$work/baseline/"
  agent_base="$work/baseline/keylime-attestor-agent=$work/agent.hcl"
  server_base="$work/baseline/keylime-attestor-server=$work/server.hcl"
fi
write_plugin_configs "$work"
run_stoppable java -cp "$(bench_cp)" -Druns="${RUNS:-10}" io.github.keylimeattestor.it.bench.StartupBenchmark \
  $agent_base "$work/keylime-attestor-agent=$work/agent.hcl" $server_base "$work/keylime-attestor-server=$work/server.hcl"
echo "Go plugin (issue 12; not built here, it is in no Go module proxy): 6 / 6 ms exec to handshake, RSS after configure 13.5 / 13.8 MB"
