#!/usr/bin/env bash
# Releases the current contract: it becomes the baseline that the gate's buf breaking compares
# against. Run it deliberately when a contract version ships, and commit what it writes. An
# incompatible change ships as a new package version (notes.v2), never by releasing over a
# failing gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/contracts-check.sh
buf build proto -o contracts/baseline.binpb
echo "released: contracts/baseline.binpb rewritten; commit it"
