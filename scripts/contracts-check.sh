#!/usr/bin/env bash
# The contract gate: fails on a formatting diff, a lint finding, a breaking change against the
# last released contract, a stale gen/ or a stale protovalidate module. Every check runs, so
# one run reports every problem. Run from npm scripts so node_modules/.bin is on PATH.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
check() {
  local name=$1
  shift
  printf '\n== %s\n' "$name"
  "$@" || failed+=("$name")
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

gen_is_current() {
  buf generate --output "$scratch" || return 1
  if ! diff -r gen "$scratch/gen"; then
    echo "gen/ is stale or was edited by hand: run npm run generate and commit the result" >&2
    return 1
  fi
}

check "buf format" buf format --diff --exit-code
check "buf lint" buf lint --error-format msvs
check "buf breaking (against contracts/baseline.binpb, the last released contract)" \
  buf breaking proto --against contracts/baseline.binpb --error-format msvs
check "protovalidate module is current" node scripts/protovalidate-proto.mjs --check
check "gen/ is what buf generate produces" gen_is_current

echo
if ((${#failed[@]} > 0)); then
  printf 'contracts: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "contracts: ok"
