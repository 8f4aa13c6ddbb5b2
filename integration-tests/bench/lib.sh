# Sourced by the bench scripts (run from the project root).

# build_bench: both plugin executables and integration-tests' classes; bench_cp prints their class path.
build_bench() {
  ./mvnw -q -B -ntp -pl integration-tests -am test-compile package -DskipTests -DskipITs
  ./mvnw -q -B -ntp -pl integration-tests dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile=target/bench.cp
}
bench_cp() {
  echo "integration-tests/target/test-classes:integration-tests/target/classes:$(cat integration-tests/target/bench.cp)"
}

# write_plugin_configs DIR: DIR/agent.hcl and DIR/server.hcl, plugin_data that Configure accepts without
# a TPM or Keylime (a throwaway certificate stands in for Keylime's; nothing listens on the Keylime
# ports, so the server's background warm-up fails, logged at debug).
write_plugin_configs() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
  cat > "$1/agent.hcl" <<HCL
tcti = "swtpm:host=127.0.0.1,port=2321"
keylime_agent_uuid = "0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10"
agent_data_path = "$1/agent_data.json"
app_key_path = "$1/app-key.blob"
HCL
  cat > "$1/server.hcl" <<HCL
registrar_urls = ["https://127.0.0.1:8891"]
verifier_urls = ["https://127.0.0.1:8881"]
tls {
  ca_bundle = "$1/cert.pem"
  client_cert = "$1/cert.pem"
  client_key = "$1/key.pem"
}
HCL
}

# run_stoppable CMD...: runs CMD (a JVM) in the background and waits for it, so that a SIGTERM or
# SIGINT (Ctrl-C) to the script is acted on at once: it goes on to CMD as SIGTERM, whose shutdown
# hook stops what it started, and the script waits for that before its EXIT trap removes the work
# directory, then exits 143 or 130. Otherwise it returns CMD's exit status.
run_stoppable() {
  "$@" &
  stoppable=$!
  trap 'stop_stoppable SIGTERM 143' TERM
  trap 'stop_stoppable SIGINT 130' INT
  local rc=0
  wait "$stoppable" || rc=$?
  trap - TERM INT
  return "$rc"
}
stop_stoppable() {
  trap '' INT TERM
  echo "${0##*/}: $1, stopping pid $stoppable and waiting for its teardown" >&2
  kill -TERM "$stoppable" 2>/dev/null || true
  wait "$stoppable" || true
  exit "$2"
}
