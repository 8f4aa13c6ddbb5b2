#!/usr/bin/env bash
# Installs Keylime 7.14.3 (verifier, registrar, tenant) into a Python venv made from Debian's
# python3 with --system-site-packages (Keylime imports `gpg`, which only Debian's python3-gpg
# provides). Idempotent: a venv that already imports keylime 7.14.3 is left alone.
#
# Usage: install.sh            (venv at $KEYLIME_VENV, default $HOME/.cache/keylime-attestor/venv)
# Prints nothing on success except pip's own output; exits non-zero on any failure.
set -euo pipefail

KEYLIME_VERSION=7.14.3
VENV="${KEYLIME_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/keylime-attestor/venv}"
PY=/usr/bin/python3

die() { echo "install.sh: $*" >&2; exit 1; }

[ -x "$PY" ] || die "$PY not found (apt-get install python3 python3-venv python3-gpg)"
"$PY" -c 'import gpg' 2>/dev/null || die "Debian's python3-gpg is missing (apt-get install python3-gpg)"
for tool in swtpm swtpm_setup openssl; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install swtpm swtpm-tools openssl)"
done

check() {
  "$VENV/bin/python" - <<PYEOF 2>/dev/null
import importlib.metadata as m, sys
assert m.version("keylime") == "$KEYLIME_VERSION", m.version("keylime")
import gpg, sqlalchemy, alembic, tornado, cryptography, yaml, requests, packaging, psutil, lark
import pyasn1, pyasn1_modules, jinja2, jsonschema, typing_extensions
from packaging.version import Version
assert Version(sqlalchemy.__version__) >= Version("2.0.39"), sqlalchemy.__version__
import keylime.cmd.verifier, keylime.cmd.registrar, keylime.cmd.tenant
PYEOF
}

if [ -x "$VENV/bin/python" ] && check; then
  exit 0
fi

mkdir -p "$(dirname "$VENV")"
rm -rf "$VENV"
"$PY" -m venv --system-site-packages "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -c "$(dirname "$0")/constraints.txt" \
  "keylime==$KEYLIME_VERSION" 'sqlalchemy>=2.0.39' alembic tornado cryptography pyyaml requests \
  packaging psutil lark pyasn1 pyasn1-modules jinja2 jsonschema typing-extensions
check || { "$VENV/bin/python" -c 'import keylime.cmd.verifier' >&2 || true; die "venv at $VENV does not import keylime $KEYLIME_VERSION and its requirements"; }
for exe in keylime_verifier keylime_registrar keylime_tenant; do
  [ -x "$VENV/bin/$exe" ] || die "$VENV/bin/$exe missing after install"
done
