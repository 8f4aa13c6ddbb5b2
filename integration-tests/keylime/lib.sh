# Shared helpers for the Keylime stack scripts (sourced, not run).

die() { echo "keylime-stack: $*" >&2; exit 1; }
log() { echo "keylime-stack: $*" >&2; }

KEYLIME_VENV="${KEYLIME_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/keylime-attestor/venv}"

# free_port N: the first of N consecutive free TCP ports on 127.0.0.1, drawn from 20000-32767,
# below the kernel's ephemeral range (32768+) so outgoing connections cannot take them meanwhile.
# Ports listed in $TAKEN_PORTS are skipped.
free_port() {
  /usr/bin/python3 - "${1:-1}" "${TAKEN_PORTS:-}" <<'PY'
import random, socket, sys
want = int(sys.argv[1]); taken = {int(x) for x in sys.argv[2].split()}
for _ in range(500):
    p = random.randrange(20000, 32767 - want)
    ok = True
    for q in range(p, p + want):
        if q in taken: ok = False; break
        t = socket.socket()
        try: t.bind(("127.0.0.1", q))
        except OSError: ok = False
        finally: t.close()
        if not ok: break
    if ok: print(p); sys.exit(0)
sys.exit("no free port")
PY
}

# wait_port PORT TIMEOUT_S PIDFILE LOGFILE: waits until 127.0.0.1:PORT accepts connections.
wait_port() {
  local port=$1 timeout=$2 pidfile=$3 logfile=$4 i
  for ((i = 0; i < timeout * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if [ -n "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "process for port $port died; last log lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  log "port $port not open after ${timeout}s; last log lines of $logfile:"
  tail -n 40 "$logfile" >&2 || true
  return 1
}

# start_group NAME LOGFILE CMD...: runs CMD as the leader of a new session/process group and
# records its process group id in $WD/pids/NAME.pgid (stop.sh kills whole groups).
# The child calls setsid() itself (a background child of a script is no group leader, so setsid
# does not fork): its pid becomes its process group id. Until it has, ps would still show the
# caller's group (for a test that is the JVM's and Maven's), so wait for that before recording it:
# killing a stale group id would take the caller down.
start_group() {
  local name=$1 logfile=$2; shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  local pid=$! pgid="" i
  echo "$pid" >"$WD/pids/$name.pid"
  for ((i = 0; i < 250; i++)); do
    pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')
    [ "$pgid" != "$pid" ] || break
    [ -n "$pgid" ] || break # exited already
    sleep 0.02
  done
  if [ "$pgid" != "$pid" ]; then
    log "$name (pid $pid) is not the leader of its own process group; recording its pid only"
  fi
  echo "$pid" >"$WD/pids/$name.pgid"
}

# kill_group NAME: SIGTERM to the group, then SIGKILL after a grace period.
kill_group() {
  local name=$1 pgid i f
  f="$WD/pids/$name.pgid"
  # a start interrupted before it recorded the group left the pid only: a group of that id exists
  # only once the process leads it, so signalling it is as safe as with the pgid file
  [ -f "$f" ] || f="$WD/pids/$name.pid"
  [ -f "$f" ] || return 0
  pgid=$(cat "$f")
  if [ -n "$pgid" ] && [ "$pgid" -gt 1 ] 2>/dev/null; then
    # the group, and the process itself in case it never became a group leader
    kill -TERM -- "-$pgid" "$pgid" 2>/dev/null || true
    for ((i = 0; i < ${STOP_GRACE_S:-2} * 10; i++)); do
      kill -0 -- "-$pgid" 2>/dev/null || kill -0 "$pgid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pgid" "$pgid" 2>/dev/null || true
  fi
  rm -f "$WD/pids/$name.pgid" "$WD/pids/$name.pid"
}
