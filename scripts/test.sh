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
echo "== fuzz (short: 2000 hostile requests; the seed is the day's date, printed: a failure reruns with --seed)"
npx tsx scripts/fuzz.ts --requests 2000
echo "== chaos (short: 300 payments, 2 replicas, SIGKILLs and broker/database restarts; any violation fails)"
npx tsx scripts/chaos.ts --payments 300 --replicas 2 --seed 1
echo "== jest"
mkdir -p .cache
rm -f .cache/jest-results.json
jest_status=0
npx jest --ci --json --outputFile=.cache/jest-results.json "$@" || jest_status=$?
# The closing line CI reads (jest's own summary is not a form it knows): N passed, N failed, N skipped.
npx tsx scripts/test-summary.ts .cache/jest-results.json
exit "$jest_status"
