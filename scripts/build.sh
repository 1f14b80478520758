#!/usr/bin/env bash
# Compiles the project to dist/ (tsc emits decorator metadata, which Nest's DI reads) and
# copies what is not TypeScript but is read at run time: the services' SQL migrations.
set -euo pipefail
cd "$(dirname "$0")/.."
tsc -p tsconfig.build.json
for service in orders inventory payments; do
  rm -rf "dist/services/$service/migrations"
  mkdir -p "dist/services/$service"
  cp -r "services/$service/migrations" "dist/services/$service/migrations"
done
