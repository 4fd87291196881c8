#!/usr/bin/env bash
# The real Slurm test of sharded comparisons (issue 14): installs Slurm and munge from Debian,
# starts a single-node cluster on this machine, submits examples/slurm/submit.sh for a 4-shard
# comparison of the bundled default scenario, waits for the merge job, and checks that the
# merged report equals the unsharded run's byte for byte. Stops its daemons on every exit.
#
#   ci/slurm-compare-test.sh [DMSIM_BINARY]     (root; default: target/release/dmsim, built)
#
# .ci/run runs it when the file .ci/slurm-test exists or DMSIM_SLURM_TEST=1.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
started=$SECONDS

dmsim=${1:-}
if [ -z "$dmsim" ]; then
  cargo build --release --locked --bin dmsim
  dmsim=$repo/target/release/dmsim
fi
dmsim=$(realpath "$dmsim")

work=$(mktemp -d /tmp/dmsim-slurm.XXXXXX)
state=$work/cluster
cleanup() {
  ci/slurm-cluster.sh stop "$state" || true
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

ci/slurm-cluster.sh install
ci/slurm-cluster.sh start "$state"
export SLURM_CONF=$state/slurm.conf

# The grid: 3 modes × 3 policies of the bundled default scenario, 9 cells over 4 shards
# (shards of 3, 2, 2 and 2 cells: the round-robin assignment with a remainder).
args=(--scenario default)
export DMSIM=$dmsim DMSIM_RESULTS=$work/results
mkdir -p "$DMSIM_RESULTS"
submitted=$(examples/slurm/submit.sh 4 "${args[@]}")
echo "$submitted"
merge_job=$(sed -n 's/.*merge job \([0-9]*\).*/\1/p' <<<"$submitted")
[ -n "$merge_job" ] || { echo "slurm-compare-test: no merge job id in: $submitted" >&2; exit 1; }

# Meanwhile, the unsharded reference on this machine.
"$dmsim" compare "${args[@]}" --out "$work/unsharded" >/dev/null

deadline=$((SECONDS + 1800))
while :; do
  state_now=$(scontrol show job "$merge_job" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  case "$state_now" in
    COMPLETED) break ;;
    FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY)
      echo "slurm-compare-test: merge job $merge_job ended $state_now" >&2
      tail -n 30 "$DMSIM_RESULTS"/*.log >&2 || true
      exit 1 ;;
  esac
  if [ "$SECONDS" -gt "$deadline" ]; then
    echo "slurm-compare-test: merge job not done after 30 minutes (state '$state_now')" >&2
    squeue >&2 || true
    exit 1
  fi
  sleep 2
done

for i in 1 2 3 4; do
  test -f "$DMSIM_RESULTS/shard-$i/shard.json"
done
diff -r "$work/unsharded" "$DMSIM_RESULTS/report"
echo "slurm-compare-test: ok: 4 shards merged on Slurm equal the unsharded report ($(ls "$DMSIM_RESULTS/report" | wc -l) files) in $((SECONDS - started)) s"
