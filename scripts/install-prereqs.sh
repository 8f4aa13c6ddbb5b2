#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian 12 machine (idempotent):
# Debian packages (swtpm, swtpm-tools, tpm2-tools, python3-gpg, python3-venv, openssl, procps,
# tpm2-abrmd, libtss2-tcti-tabrmd0, dbus, postgresql: FleetIT starts its own private cluster, never the
# system service), real SPIRE v1.15.3 and a Keylime 7.14.3 venv.
# Java 17+, Maven (through ./mvnw), Go >= 1.26.6 and gcc are expected on the machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

packages=(swtpm swtpm-tools tpm2-tools python3-gpg python3-venv openssl procps tpm2-abrmd libtss2-tcti-tabrmd0 dbus postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  # Installing postgresql would start a system cluster on :5432 (and tpm2-abrmd its service on a host
  # with a TPM), which nothing here stops: Debian's policy-rc.d hook (exit 101) keeps packages from
  # starting services, for this install only. The tests start private instances of what they need.
  policy=""
  trap '[ -z "$policy" ] || $sudo rm -f /usr/sbin/policy-rc.d' EXIT
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    policy=1
  fi
  rc=0
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null || rc=$?
  [ -z "$policy" ] || $sudo rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || exit "$rc"
fi

"$root/integration-tests/install-spire.sh"

if [ -x "$root/integration-tests/keylime/install.sh" ]; then
  "$root/integration-tests/keylime/install.sh"
fi
