#!/usr/bin/env bash
# Builds the toolkit's packages (each to its own dist/: ESM, .d.ts and their CommonJS twins .d.cts,
# ADR 0130), in dependency order, then the shop, which imports them by package name through the
# workspace links exactly as a user's app imports them from npm. tsc emits decorator metadata,
# which Nest's DI reads; the services' SQL migrations are copied beside their compiled code, and
# each service is bundled into one file that `serve` starts from (ADR 0152).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
for package in clients kit/data kit/server kit/messaging kit/telemetry kit/cache kit/testing; do
  (cd "$package" && rm -rf dist && tsc -p tsconfig.build.json && node "$root/scripts/cjs-declarations.mjs")
done
# The starter is a command, not a library: its code, no declarations; its template ships as files.
(cd starter && rm -rf dist && tsc -p tsconfig.build.json && chmod +x dist/cli.js)
tsc -p tsconfig.build.json
for service in orders inventory payments; do
  rm -rf "dist/services/$service/migrations"
  mkdir -p "dist/services/$service"
  cp -r "services/$service/migrations" "dist/services/$service/migrations"
done
node dist/scripts/bundle-services.js
