#!/usr/bin/env bash
# The project's test command: installs prerequisites, then builds and runs every test
# (unit tests, then integration tests against real SPIRE, swtpm, tpm2-tools and Keylime).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-prereqs.sh
exec ./mvnw -B -ntp verify "$@" # exec: a signal to this script reaches Maven and the tests it runs
