#!/usr/bin/env bash
# Releases the current contract: it becomes the baseline that buf breaking compares against,
# and representative messages are encoded as golden files that later versions must decode.
# Run it deliberately when a contract version ships, and commit what it writes. An
# incompatible change is released as a new package version (shop.orders.v2), which the gate
# accepts, never by releasing over a failing gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/contracts-check.sh
buf build proto -o contracts/baseline.binpb
tsx contracts/write-golden.ts
echo "released: contracts/baseline.binpb and contracts/golden/ rewritten"
