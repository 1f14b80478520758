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

generated_dirs=(gen clients/gen kit/server/gen test/contract/gen)
gen_is_current() {
  local dir
  bash scripts/generate.sh "$scratch" || return 1
  for dir in "${generated_dirs[@]}"; do
    if ! diff -r "$dir" "$scratch/$dir"; then
      echo "$dir/ is stale or was edited by hand: run npm run generate and commit the result" >&2
      return 1
    fi
  done
}

check "buf format" buf format --diff --exit-code
check "buf lint" buf lint --error-format msvs
check "buf breaking (against contracts/baseline.binpb, the last released contract)" \
  buf breaking proto --against contracts/baseline.binpb --error-format msvs
check "protovalidate module is current" node scripts/protovalidate-proto.mjs --check
check "generated code (gen/, clients/gen/, kit/server/gen/, test/contract/gen/) is what buf generate produces" gen_is_current

echo
if ((${#failed[@]} > 0)); then
  printf 'contracts: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "contracts: ok"
