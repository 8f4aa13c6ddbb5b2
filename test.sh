#!/usr/bin/env bash
# The project's test command: installs prerequisites, then builds and runs every test
# (unit tests, then integration tests against real SPIRE, swtpm, tpm2-tools and Keylime).
set -euo pipefail
cd "$(dirname "$0")"
# the plugins refuse key directories group or others may write: a umask of 002 would make the
# tests' own directories so (tests that mean to check that refusal set the mode themselves)
umask 022
scripts/install-prereqs.sh
exec ./mvnw -B -ntp verify "$@" # exec: a signal to this script reaches Maven and the tests it runs
