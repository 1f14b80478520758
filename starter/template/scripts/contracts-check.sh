#!/usr/bin/env bash
# The contract gate: fails on a formatting diff, a lint finding, a breaking change against the
# last released contract (contracts/baseline.binpb), a stale vendored validate.proto or a stale
# gen/. Every check runs, so one run reports every problem. Run it through npm (npm run gate),
# which puts node_modules/.bin (buf, protoc-gen-es) on PATH.
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
check "vendored validate.proto matches the installed @bufbuild/protovalidate" node scripts/protovalidate-proto.mjs --check
check "gen/ is what buf generate produces" gen_is_current

echo
if ((${#failed[@]} > 0)); then
  printf 'contract gate FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "contract gate: ok"
