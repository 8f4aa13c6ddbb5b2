#!/usr/bin/env bash
# Builds both plugin executables twice, from clean copies of the working tree in two different
# directories, and compares their sha256. Exit 0 and "reproducible" when they are byte-identical.
# Uses the Maven repository the calling build uses (MAVEN_ARGS), offline: run it after one normal
# build (the distribution module's ReproducibleBuildIT does). The copies hold no target/, so no
# "clean" (its plugin may not be in a fresh repository).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/keylime-attestor-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$root"
files=$(git ls-files -co --exclude-standard 2>/dev/null || true)
for n in a b; do
  mkdir -p "$work/$n"
  if [ -n "$files" ]; then
    # tracked and new files as they are in the working tree (not only what is committed)
    printf '%s\n' "$files" | while IFS= read -r f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
      | xargs -0 cp --parents -t "$work/$n"
    cp -a .git "$work/$n/.git" 2>/dev/null || true
  else
    tar --exclude=./target --exclude='*/target' -cf - . | tar -xf - -C "$work/$n"
  fi
done
sums=()
for n in a b; do
  (cd "$work/$n" && ./mvnw -o -q -B -ntp -pl plugin-agent,plugin-server -am package -DskipTests) >"$work/$n.log" 2>&1 \
    || { echo "build $n failed:"; tail -40 "$work/$n.log"; exit 2; }
  sums+=("$(cd "$work/$n" && sha256sum plugin-agent/target/keylime-attestor-agent plugin-server/target/keylime-attestor-server)")
done
printf 'build a:\n%s\nbuild b:\n%s\n' "${sums[0]}" "${sums[1]}"
if [ "${sums[0]}" = "${sums[1]}" ]; then
  echo "reproducible"
else
  echo "NOT reproducible: the two builds differ"
  exit 1
fi
