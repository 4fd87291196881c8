#!/usr/bin/env bash
# The explorer's power, measured (issue 9 item 7): cargo-mutants on a seeded sample of the
# engine's mutants, with the explorer's CI tier (explore/tests/ci_tier.rs: fixed seed ranges
# of every profile and the corpus's explorer seed files, every oracle on) as the only test.
# A mutant the tier kills is one an oracle caught; the survivors are printed for review.
#
#   bash bench/mutants.sh [SEED] [SAMPLE]     (defaults: seed 0, at least 40 mutants)
#
# The sample is one shard of a round-robin split of every mutant of engine/ (mutant i goes to
# shard i mod N), so it spreads over all files; SEED picks the shard. Needs cargo-mutants
# (`cargo install cargo-mutants --locked`). About 1-2 minutes per mutant on two cores in debug:
# an hour or more for 40.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-0}
sample=${2:-40}
command -v cargo-mutants >/dev/null || {
  echo "mutants.sh: cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
  exit 2
}
out=${MUTANTS_OUT:-target/mutants}
mkdir -p "$out"

total=$(cargo mutants --package dmsim-engine --list | wc -l)
shards=$(( total / sample ))
[ "$shards" -ge 1 ] || shards=1
shard=$(( seed % shards ))
echo "engine/: $total mutants; shard $shard of $shards (round-robin): $(( (total - shard + shards - 1) / shards )) mutants"

# cargo-mutants' own baseline runs the mutated package's tests, not --test-package's
# (cargo-mutants 27.1, lab.rs run_baseline), so the baseline is run here: the tier must pass
# on the unmutated tree, and its time sets the timeout. A mutant that hangs the tier counts
# as caught (it did not pass) once it runs four times the baseline (at least 120 s).
test_args=(--test-package dmsim-explore --cargo-test-arg=--test --cargo-test-arg=ci_tier)
cargo test -q -p dmsim-explore --test ci_tier --no-run
start=$(date +%s)
cargo test -q -p dmsim-explore --test ci_tier >/dev/null || {
  echo "mutants.sh: the CI tier fails on the unmutated tree" >&2
  exit 1
}
baseline_s=$(( $(date +%s) - start ))
timeout_s=$(( baseline_s * 4 > 120 ? baseline_s * 4 : 120 ))
echo "baseline: the tier passed in ${baseline_s} s test timeout ${timeout_s} s"
status=0
# cargo-mutants builds each mutant in a scratch copy of the tree. A CARGO_TARGET_DIR shared
# with this checkout lets the checkout's next build reuse a mutant's artifacts (seen: the
# tier failing on an unmutated tree after a sample), so the scratch builds get their own.
env -u CARGO_TARGET_DIR cargo mutants --package dmsim-engine --shard "$shard/$shards" --sharding round-robin \
  "${test_args[@]}" --baseline skip --timeout "$timeout_s" \
  --jobs 1 --output "$out" --no-shuffle || status=$?
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts: both are results here.
case $status in 0|2|3) ;; *) echo "mutants.sh: cargo-mutants failed ($status)" >&2; exit $status ;; esac

dir="$out/mutants.out"
count() { if [ -s "$dir/$1.txt" ]; then grep -c . "$dir/$1.txt"; else echo 0; fi; }
caught=$(count caught); missed=$(count missed); timeout=$(count timeout); unviable=$(count unviable)
viable=$(( caught + missed + timeout ))
echo
echo "caught $caught, timeout $timeout, missed $missed, unviable $unviable (of $(( viable + unviable )))"
if [ "$viable" -gt 0 ]; then
  awk -v k=$(( caught + timeout )) -v v="$viable" \
    'BEGIN { printf "kill ratio: %d of %d viable mutants (%.1f %%)\n", k, v, 100 * k / v }'
fi
if [ "$missed" -gt 0 ]; then
  echo "survivors:"
  sed 's/^/  /' "$dir/missed.txt"
fi
