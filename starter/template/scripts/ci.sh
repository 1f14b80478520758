#!/usr/bin/env bash
# What CI runs on every change: a clean install from the lockfile, then the contract gate, the
# type-check and the tests (npm test). Needs Node 20.19 or later; NATS JetStream at NATS_URL
# (default nats://127.0.0.1:4222) for the relay test, which CI makes a failure when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
REQUIRE_NATS=1 npm test
