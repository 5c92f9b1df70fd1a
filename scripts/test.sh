#!/usr/bin/env bash
# The one test command (README, .ci/run): type check, lint, then every jest test
# (unit, integration against real FerretDB + RabbitMQ, end-to-end with services as processes).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== typecheck (tsc --noEmit, strict)"
npx tsc --noEmit -p tsconfig.json
echo "== lint (eslint)"
npx eslint . --max-warnings=0
echo "== bench (short: proves the command works; no thresholds)"
npx tsx scripts/bench.ts --short
echo "== jest"
npx jest --ci "$@"
