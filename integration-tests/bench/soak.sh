#!/usr/bin/env bash
# Soak of both plugins (issue 12): N re-attestations (default 500) on KeylimeEndToEndIT's stack (swtpm, Keylime
# 7.14.3, SPIRE v1.15.3, agent_ttl 6s), printing RSS, threads, fds and CPU per re-attestation of each plugin
# every 50 re-attestations (SOAK_EVERY), then the first attestation and re-attestation latency.
#   integration-tests/bench/soak.sh [N]
#   SOAK_JFR=/tmp/jfr integration-tests/bench/soak.sh 35   # also a JFR recording of each plugin (jcmd JFR.start)
#   SOAK_JFR_SETTINGS=/tmp/1ms.jfc ...                    # its settings (default: the JDK's "profile", 10 ms samples)
#   SOAK_AGENT_EXE=/tmp/old/keylime-attestor-agent SOAK_SERVER_EXE=/tmp/old/keylime-attestor-server integration-tests/bench/soak.sh 35
#   SOAK_TRAIN_CDS=1 integration-tests/bench/soak.sh 35   # with the class-data archive
#   SOAK_NMT=1 integration-tests/bench/soak.sh 35   # plugins with -XX:NativeMemoryTracking=summary (JVM's own accounting)
#   SOAK_JAVA_OPTS='-agentpath:<libasyncProfiler.so>=start,event=itimer,interval=1ms,loop=60s,collapsed,file=/tmp/ap/%p-%t.txt' ...
#                   # JVM options of the soaked plugins only, not of --train-cds (async-profiler: Maven Central, tools.profiler)
# After the first attestation and at the end it prints where each plugin's RSS is: by mapping (smaps), NMT (if on),
# heap generations (jcmd GC.heap_info); at the end, the RSS of a JVM that only sleeps, with the launcher's flags.
# Not a test: it prints figures. Runs on copies of the executables, so target/ may be rebuilt meanwhile.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${1:-500}
. integration-tests/bench/lib.sh
build_bench
work=$(mktemp -d /tmp/soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugin-agent/target" "$work/plugin-server/target"
# SOAK_AGENT_EXE / SOAK_SERVER_EXE: other builds of the executables (e.g. main's) to compare with
cp "${SOAK_AGENT_EXE:-plugin-agent/target/keylime-attestor-agent}" "$work/plugin-agent/target/keylime-attestor-agent"
cp "${SOAK_SERVER_EXE:-plugin-server/target/keylime-attestor-server}" "$work/plugin-server/target/keylime-attestor-server"
for exe in "$work"/plugin-*/target/keylime-attestor-*; do
  (cd "${exe%/*}" && sha256sum "${exe##*/}" > "${exe##*/}.sha256")
done
# SOAK_TRAIN_CDS=1: with the class-data archive (or AOT cache) the launcher would use once trained
if [ "${SOAK_TRAIN_CDS:-0}" = 1 ]; then
  "$work/plugin-agent/target/keylime-attestor-agent" --train-cds 2>/dev/null
  "$work/plugin-server/target/keylime-attestor-server" --train-cds 2>/dev/null
fi
if [ -n "${SOAK_JAVA_OPTS:-}" ]; then
  export KEYLIME_ATTESTOR_JAVA_OPTS="$SOAK_JAVA_OPTS ${KEYLIME_ATTESTOR_JAVA_OPTS:-}"
fi
if [ "${SOAK_NMT:-0}" = 1 ]; then
  export KEYLIME_ATTESTOR_JAVA_OPTS="-XX:NativeMemoryTracking=summary ${KEYLIME_ATTESTOR_JAVA_OPTS:-}"
fi
# run_stoppable: a SIGTERM or Ctrl-C reaches the soak's JVM, whose shutdown hook stops everything the
# soak started (SPIRE and the plugins, swtpm, Keylime, the emulated agent) before $work goes.
run_stoppable java -cp "$(bench_cp)" -Dproject.root="$work" -Dkeylime.scripts="$root/integration-tests/keylime" \
  -Dkeylime.workdir="$work/keylime" -Dsoak.every="${SOAK_EVERY:-50}" -Dsoak.launcher="$root/packaging/launcher.sh" -Dsoak.jfr="${SOAK_JFR:-}" \
  -Dsoak.jfr.settings="${SOAK_JFR_SETTINGS:-profile}" io.github.keylimeattestor.it.ReattestationSoak "$n"
