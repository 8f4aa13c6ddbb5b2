#!/usr/bin/env bash
# TPM2_Sign latency on swtpm (issue 10's figure): what KeyManager "keylime_tpm" pays per SignData,
# beside TPM2_Sign alone and a software signature. Not a test: it prints figures.
#   integration-tests/bench/tpm-sign.sh [N]      # N signatures per row, default 200
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
./mvnw -q -B -ntp -pl tpm -am test-compile -DskipTests
./mvnw -q -B -ntp -pl tpm dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.cp
exec java -cp "tpm/target/test-classes:tpm/target/classes:$(cat tpm/target/bench.cp)" \
  io.github.keylimeattestor.tpm.bench.SignBenchmark "${1:-200}"
