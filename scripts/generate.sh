#!/usr/bin/env bash
# Runs every buf generate template: the shop's contract into gen/, gRPC health into the clients
# package, reflection into the server package, the toolkit's test-only contract into test/contract/gen. `scripts/generate.sh DIR` writes the same tree
# under DIR instead and touches nothing else (the contract gate compares DIR with the committed
# code). Run from npm scripts, so buf is on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
output=${1:-}
if [ -z "$output" ]; then
  node scripts/protovalidate-proto.mjs --write
fi
for template in buf.gen.yaml clients/buf.gen.yaml kit/server/buf.gen.yaml test/contract/buf.gen.yaml; do
  buf generate --template "$template" --output "${output:-.}"
done
