#!/usr/bin/env bash
# Start-up benchmark of the two plugin executables (issue 2's figures): exec-to-handshake time
# (median of 10) and RSS after Init + Configure, without and with the launcher's start-up options.
#   integration-tests/bench/startup.sh                       # JDK on PATH (17 here)
#   KEYLIME_ATTESTOR_JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java integration-tests/bench/startup.sh
# Not a test: it prints figures. Works on copies of the executables, so target/ is left as built.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
./mvnw -q -B -ntp -pl integration-tests -am test-compile package -DskipTests -DskipITs
./mvnw -q -B -ntp -pl integration-tests dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.cp
work=$(mktemp -d /tmp/startup-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp plugin-agent/target/keylime-attestor-agent plugin-server/target/keylime-attestor-server "$work/"
java -cp "integration-tests/target/test-classes:integration-tests/target/classes:$(cat integration-tests/target/bench.cp)" \
  -Druns="${RUNS:-10}" io.github.keylimeattestor.it.bench.StartupBenchmark \
  "$work/keylime-attestor-agent" "$work/keylime-attestor-server"
