#!/usr/bin/env bash
# Runs the demo three times and checks that none of the processes it started outlives it:
#   1. ./demo.sh as is (must succeed);
#   2. DEMO_FAIL_AFTER_STEP=6 ./demo.sh (fails on purpose once the node is attested, i.e. with
#      swtpm, Keylime, the Keylime agent emulator, SPIRE and both plugins running);
#   3. ./demo.sh interrupted with SIGINT (Ctrl-C) once SPIRE is up (step 5).
# Each run gets a unique marker in its environment, which every process it starts inherits; after
# the demo exits, any process carrying the marker is a leftover. Leftovers are listed (pid, name,
# command line), then killed, and the check fails. CI (.ci/run) calls this after ./test.sh.
#
# Usage: scripts/check-demo-leaves-nothing.sh [DEMO]   (DEMO defaults to ./demo.sh)
# Environment: CHECK_DEMO_FAIL_STEP (default 6) picks the step of run 2.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
demo="${1:-$root/demo.sh}"
fail_step="${CHECK_DEMO_FAIL_STEP:-6}"
# what the demo starts (tpm2-abrmd too, should it ever use it); the marker finds these and anything else
names="swtpm, keylime_verifier, keylime_registrar, spire-server, spire-agent, the emulator's java, the plugins, tpm2-abrmd"

# pids of processes whose environment holds MARKER=value
marked() {
  local marker=$1 d
  for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = "$$" ] && continue
    tr '\0' '\n' 2>/dev/null <"$d/environ" | grep -qx "KEYLIME_ATTESTOR_DEMO_RUN=$marker" && echo "${d#/proc/}"
  done
}

show() { # pid...
  local p
  for p in "$@"; do
    printf '  pid %s %-18s %s\n' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)" \
      "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-160)"
  done
}

failures=0
# If this check is itself interrupted or stopped (Ctrl-C, CI's SIGTERM), the demo it runs goes too:
# SIGINT to its process group, as Ctrl-C in a terminal, then SIGKILL for anything still marked.
current_pid= current_marker= current_log=
abort() {
  local sig=$1 i left
  trap - INT TERM
  if [ -n "$current_pid" ]; then
    kill -INT -- "-$current_pid" 2>/dev/null
    for ((i = 0; i < 150; i++)); do kill -0 "$current_pid" 2>/dev/null || break; sleep 0.2; done
    left=$(marked "$current_marker")
    # shellcheck disable=SC2086
    [ -n "$left" ] && kill -KILL $left 2>/dev/null
  fi
  [ -n "$current_log" ] && rm -f "$current_log"
  echo "check: stopped by SIG$sig; the demo it ran was stopped too" >&2
  exit $((128 + $(kill -l "$sig")))
}
trap 'abort INT' INT
trap 'abort TERM' TERM

run() { # label expected(ok|fail|interrupt) [VAR=value...]
  local label=$1 expect=$2; shift 2
  local marker="check-$$-$RANDOM" log rc t0 t1 left i pid
  log=$(mktemp /tmp/check-demo.XXXXXX.log)
  current_marker=$marker current_log=$log
  t0=$(date +%s)
  # job control on: the demo gets its own process group and SIGINT is not ignored, as in a terminal
  set -m
  # --default-signal=INT: a terminal's Ctrl-C works even if this check was started with SIGINT
  # ignored (a background job of a non-interactive shell, nohup ... &), which bash cannot un-ignore
  env --default-signal=INT "$@" KEYLIME_ATTESTOR_DEMO_RUN="$marker" "$demo" >"$log" 2>&1 &
  pid=$!
  current_pid=$pid
  set +m
  if [ "$expect" = interrupt ]; then
    for ((i = 0; i < 3000; i++)); do
      grep -q ") 5\. " "$log" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    # what Ctrl-C does: the whole foreground process group
    if kill -INT -- "-$pid"; then echo "check: SIGINT sent to process group $pid at $(date +%T.%N)"
    else echo "check: SIGINT to process group $pid failed"
    fi
  fi
  wait "$pid"
  rc=$?
  current_pid=
  t1=$(date +%s)
  echo "== $label: $demo exited $rc after $((t1 - t0)) s (${*:-no extra environment})"
  sed 's/^/   | /' "$log" | tail -n 25
  if [ "$expect" = ok ] && [ "$rc" -ne 0 ]; then
    echo "FAIL ($label): the demo should have succeeded"; failures=$((failures + 1))
  elif [ "$expect" = fail ] && { [ "$rc" -eq 0 ] || ! grep -q "failing on purpose" "$log"; }; then
    echo "FAIL ($label): the demo should have failed on purpose"; failures=$((failures + 1))
  elif [ "$expect" = interrupt ] && { [ "$rc" -ne 130 ] || ! grep -q ") 5\. " "$log"; }; then
    echo "FAIL ($label): the demo should have been interrupted after step 5 (exit 130)"; failures=$((failures + 1))
  fi
  # processes get a moment to be reaped after the demo's own exit
  for ((i = 0; i < 30; i++)); do
    left=$(marked "$marker")
    [ -z "$left" ] && break
    sleep 0.2
  done
  if [ -n "$left" ]; then
    echo "FAIL ($label): processes outlived the demo:"
    # shellcheck disable=SC2086
    show $left
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null
    failures=$((failures + 1))
  else
    echo "ok ($label): no process of the demo is left (checked: $names, and anything else it started)"
  fi
  rm -f "$log"
  current_log=
}

start=$(date +%s)
run "full demo" ok
run "demo failing after step $fail_step" fail DEMO_FAIL_AFTER_STEP="$fail_step"
run "demo interrupted after step 5" interrupt
echo "demo check took $(( $(date +%s) - start )) s; failures: $failures"
[ "$failures" -eq 0 ]
