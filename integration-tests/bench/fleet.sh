#!/usr/bin/env bash
# Fleet scale figures (issue 17 item 4). Not a test: it prints figures and draws a chart.
#   integration-tests/bench/fleet.sh            # N = 10 50 100
#   integration-tests/bench/fleet.sh 10 50      # the N you name
# For each N it runs FleetIT in steady state (PostgreSQL, two spire-servers with our server plugin, one Keylime
# registrar + verifier, N nodes each with swtpm + Keylime agent emulator + spire-agent with our agent plugins;
# no server restart) and reads the JSON figures FleetIT writes: re-attestation success rate, p50/p99 latency
# (spire-agent's "Reattesting node" to "Successfully reattested node"), CPU and RSS of our server plugins, of
# spire-server and of Keylime, Keylime requests per second. It stops at the first N the machine cannot hold
# (free memory checked first; a failed run stops it too) and says why. Then it projects to 10,000 nodes with
# SPIRE's default TTLs and draws target/bench-fleet/fleet.png (gnuplot; apt-get install gnuplot-nox if missing).
# Environment: FLEET_PHASE_SECONDS (steady window, default 60), FLEET_AGENT_TTL (default 60s),
#   FLEET_QUOTE_INTERVAL (Keylime verifier quote_interval, default 10), MB_PER_NODE (memory guard, default 300).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out="$root/integration-tests/target/bench-fleet"
mkdir -p "$out"
ns=("$@")
[ ${#ns[@]} -gt 0 ] || ns=(10 50 100)
phase=${FLEET_PHASE_SECONDS:-60}
ttl=${FLEET_AGENT_TTL:-60s}
quote=${FLEET_QUOTE_INTERVAL:-10}
mb_per_node=${MB_PER_NODE:-300}
export MAVEN_ARGS="${MAVEN_ARGS:-}"

# Maven runs in the background, so that a SIGTERM or SIGINT (Ctrl-C) to this script is acted on at once:
# it goes on to Maven as SIGTERM; Maven's test JVM (failsafe's fork, which outlives it by some seconds)
# then stops what FleetIT started from its shutdown hooks (SPIRE and the plugins: SpireProcess; Keylime,
# swtpm and the emulators: KeylimeStack; PostgreSQL), and the script waits for that JVM to end too.
mvn=
stop() {
  trap '' INT TERM
  echo "fleet.sh: $1, stopping Maven (pid ${mvn:-none}) and its test JVM, and waiting for them" >&2
  if [ -n "$mvn" ]; then
    tree=$(descendants "$mvn")
    kill -TERM "$mvn" 2>/dev/null || true
    wait "$mvn" || true
    for i in $(seq 240); do
      alive=
      for pid in $tree; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
      [ -n "$alive" ] || break
      sleep 0.5
    done
    [ -z "$alive" ] || echo "fleet.sh: still running after 2 minutes:$alive" >&2
  fi
  exit "$2"
}
# (the fork runs under a /bin/sh that Maven may end first, so its JVM is a grandchild)
descendants() {
  local c
  for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done
}
trap 'stop SIGTERM 143' TERM
trap 'stop SIGINT 130' INT

done_ns=()
stopped=""
for n in "${ns[@]}"; do
  avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
  need=$((n * mb_per_node + 2048))
  if [ "$avail" -lt "$need" ]; then
    stopped="N=$n not run: it needs about $need MB (3 JVMs, spire-agent and swtpm per node, at ~$mb_per_node MB), $avail MB available"
    break
  fi
  echo "fleet.sh: N=$n (log $out/fleet-$n.log)" >&2
  t=$(date +%s)
  ./mvnw -B -ntp -pl integration-tests -am verify -Dit.test=FleetIT -Dtest=none \
      -Dsurefire.failIfNoSpecifiedTests=false -Dfailsafe.failIfNoSpecifiedTests=false \
      -Dfleet.nodes="$n" -Dfleet.restartServer=false -Dfleet.phaseSeconds="$phase" -Dfleet.agentTtl="$ttl" \
      -Dfleet.quoteInterval="$quote" -Dfleet.report="$out/fleet-$n.json" >"$out/fleet-$n.log" 2>&1 &
  mvn=$!
  if ! wait "$mvn"; then
    stopped="N=$n failed after $(( $(date +%s) - t )) s (see $out/fleet-$n.log; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
    [ -s "$out/fleet-$n.json" ] && done_ns+=("$n")
    break
  fi
  echo "fleet.sh: N=$n took $(( $(date +%s) - t )) s" >&2
  done_ns+=("$n")
done

[ ${#done_ns[@]} -gt 0 ] || { echo "fleet.sh: no run completed. $stopped" >&2; exit 1; }

python3 - "$out" "$stopped" "${done_ns[@]}" <<'PY'
import json, sys
out, stopped, ns = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = [json.load(open(f"{out}/fleet-{n}.json")) for n in ns]
print("| N | success | attest/s | p50 ms | p99 ms | server plugin CPU (cores, 2 servers) | plugin RSS MB (max) | spire-server CPU | Keylime CPU | verifier req/s | of which watch | registrar req/s | Keylime req / attestation |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
with open(f"{out}/fleet.dat", "w") as dat:
    for r in rows:
        print(f"| {r['nodes']} | {r['success_rate']*100:.1f}% ({r['reattest_ok']}/{r['reattest_ok']+r['reattest_failed']}) "
              f"| {r['attestations_per_s']:.2f} | {r['latency_p50_ms']:.0f} | {r['latency_p99_ms']:.0f} "
              f"| {r['server_plugin_cpu_cores']:.3f} | {r['server_plugin_rss_mb_max']:.0f} | {r['spire_server_cpu_cores']:.3f} "
              f"| {r['keylime_cpu_cores']:.3f} | {r['verifier_requests_per_s']:.2f} | {r['verifier_watch_requests_per_s']:.2f} "
              f"| {r['registrar_requests_per_s']:.2f} | {r['keylime_requests_per_attestation']:.2f} |")
        dat.write(f"{r['nodes']} {r['latency_p50_ms']} {r['latency_p99_ms']} {r['server_plugin_cpu_cores']*100} "
                  f"{r['spire_server_cpu_cores']*100} {r['keylime_cpu_cores']*100}\n")
if stopped:
    print(f"\nStopped: {stopped}")

# Projection: SPIRE's defaults (agent SVID TTL = default_x509_svid_ttl 1h, re-attestation at half of it; agent
# sync every 5 s) and Keylime's default quote_interval 2 s. Each cost is fitted as fixed + slope x load over the
# runs (least squares; with one run, all of it counts as slope): our plugins against attestations per second,
# spire-server and Keylime against nodes.
def fit(xs, ys):
    if len(xs) < 2:
        return 0.0, ys[0] / max(xs[0], 1e-9)
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs) or 1e-9
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    k = max(k, 0.0)
    return my - k * mx, k
att = [r["steady_attestations"] / r["steady_seconds"] for r in rows]
nn = [r["nodes"] for r in rows]
q = rows[-1]["quote_interval_s"]
target, rate = 10_000, 10_000 / 1800.0
p0, pk = fit(att, [r["server_plugin_cpu_cores"] for r in rows])
s0, sk = fit(nn, [r["spire_server_cpu_cores"] for r in rows])
k0, kk = fit(nn, [r["keylime_cpu_cores"] for r in rows])
plugin = max(p0, 0) + pk * rate
spire = max(s0, 0) + sk * target
keylime = max(k0, 0) + kk * target * (q / 2.0)
per_att = sum(r["keylime_requests_per_attestation"] for r in rows) / len(rows)
watch = rows[-1]["verifier_watch_requests_per_s"]
req = per_att * rate + watch
print(f"\nProjection to {target} nodes, SPIRE defaults (re-attestation every 30 min = {rate:.2f}/s), fitted over N = {', '.join(map(str, nn))}:")
print(f"- our server plugins (2 servers, 2 processes each): {pk*1000:.1f} ms CPU per attestation + {p0:.3f} cores idle (watch polls, JVMs) -> {plugin:.2f} cores")
print(f"- spire-server (2; agent syncs every 5 s, datastore, signing): {sk*1000:.2f} millicores per node -> {spire:.2f} cores")
print(f"- Keylime verifier + registrar (quote every agent every 2 s, scaled from {q} s): {kk*1000:.2f} millicores per node at {q} s -> {keylime:.2f} cores")
print(f"- Keylime requests from our plugins: {per_att:.2f} per attestation -> {per_att*rate:.1f}/s, + the watch's bulk reads {watch:.1f}/s")
first = max([("the Keylime verifier", keylime), ("spire-server", spire), ("our server plugins", plugin)], key=lambda x: x[1])
print(f"- first to saturate: {first[0]} ({first[1]:.1f} cores at {target} nodes; this machine has 2)")
PY

if ! command -v gnuplot >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq gnuplot-nox >/dev/null
fi
gnuplot <<GP
set terminal png size 900,420
set output "$out/fleet.png"
set multiplot layout 1,2 title "keylime-attestor fleet: two spire-servers on PostgreSQL, one Keylime (2 cores)"
set xlabel "nodes (N)"; set grid; set key top left
set ylabel "re-attestation latency (ms)"
plot "$out/fleet.dat" using 1:2 with linespoints title "p50", "" using 1:3 with linespoints title "p99"
set ylabel "CPU (% of one core)"
plot "$out/fleet.dat" using 1:4 with linespoints title "our server plugins", "" using 1:5 with linespoints title "spire-server (2)", "" using 1:6 with linespoints title "Keylime"
unset multiplot
GP
echo "fleet.sh: chart $out/fleet.png" >&2
