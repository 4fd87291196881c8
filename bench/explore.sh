#!/usr/bin/env bash
# Benchmark: a long `dmsim explore` sweep per profile (release build), printing seeds per
# second per core and device IOs per seed. Speed goal (issue 9): 20 seeds/s/core at about
# 10,000 device IOs per seed. Each seed runs twice (the determinism check) and fault-free
# seeds a third time against pass-through; device IOs count the first run only.
#
#   bash bench/explore.sh [BUDGET_PER_PROFILE] [JOBS]   (defaults: 60s, the number of cores)
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-60s}
jobs=${2:-$(nproc)}
cargo build --release -q -p dmsim
dmsim=${CARGO_TARGET_DIR:-target}/release/dmsim
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-11s %7s %9s %12s %16s %15s %7s\n' profile seeds seconds seeds/s seeds/s/core device_IOs/seed failed
status=0
for profile in swarm fault-free flashcache timeouts raid5; do
  # A failing seed is a finding, not a benchmark error: report it and go on.
  "$dmsim" explore --profile "$profile" --budget "$budget" --jobs "$jobs" --json --no-shrink \
    > "$out/$profile.json" || status=1
  python3 - "$out/$profile.json" "$jobs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
jobs = int(sys.argv[2])
seeds = max(r["seeds_run"], 1)
print(f'{r["profile"]:<11} {r["seeds_run"]:>7} {r["seconds"]:>9.1f} {r["seeds_per_second"]:>12.2f} '
      f'{r["seeds_per_second"] / jobs:>16.2f} {r["device_ios"] / seeds:>15.0f} {len(r["failures"]):>7}')
for f in r["failures"]:
    print(f'  FAIL {f["repro"]}: {f["failure"]["kind"]} in {f["failure"]["phase"]}')
PY
done
exit $status
