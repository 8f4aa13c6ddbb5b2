# Sourced by startup.sh and idle.sh: writes $work/agent.hcl and $work/server.hcl, plugin_data that
# Configure accepts without a TPM or Keylime (a throwaway certificate stands in for Keylime's; nothing
# listens on the Keylime ports, so the server's background warm-up fails, logged at debug).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat > "$work/agent.hcl" <<HCL
tcti = "swtpm:host=127.0.0.1,port=2321"
keylime_agent_uuid = "0b5f2b36-27a4-4d8e-9c61-3c4f2d7e9a10"
agent_data_path = "$work/agent_data.json"
app_key_path = "$work/app-key.blob"
HCL
cat > "$work/server.hcl" <<HCL
registrar_urls = ["https://127.0.0.1:8891"]
verifier_urls = ["https://127.0.0.1:8881"]
tls {
  ca_bundle = "$work/cert.pem"
  client_cert = "$work/cert.pem"
  client_key = "$work/key.pem"
}
HCL
