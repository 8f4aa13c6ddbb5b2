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
./mvnw -q -B -ntp -pl integration-tests -am test-compile package -DskipTests -DskipITs
./mvnw -q -B -ntp -pl integration-tests dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.cp
work=$(mktemp -d /tmp/idle-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp plugin-agent/target/keylime-attestor-agent plugin-server/target/keylime-attestor-server "$work/"
. integration-tests/bench/plugin-configs.sh
# In the background, so that a SIGTERM or SIGINT reaches the JVM, whose PluginHost stops the plugin.
java -cp "integration-tests/target/test-classes:integration-tests/target/classes:$(cat integration-tests/target/bench.cp)" \
  io.github.keylimeattestor.it.IdleCpu "$n" \
  "$work/keylime-attestor-agent=$work/agent.hcl" "$work/keylime-attestor-server=$work/server.hcl" &
bench=$!
stop() {
  trap '' INT TERM
  kill -TERM "$bench" 2>/dev/null || true
  wait "$bench" || true
  exit "$1"
}
trap 'stop 143' TERM
trap 'stop 130' INT
wait "$bench"
