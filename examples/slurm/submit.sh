#!/usr/bin/env bash
# Submits an N-shard dmsim comparison to Slurm: a job array of N shard tasks, then a merge job
# that starts only when every task succeeded. Prints the two job ids.
#
#   examples/slurm/submit.sh N [compare arguments…]
#   e.g. DMSIM_RESULTS=/shared/study examples/slurm/submit.sh 16 trace.csv --set cache_size=1g,4g
set -euo pipefail

shards=${1:?usage: submit.sh N [compare arguments…]}
shift
here=$(cd "$(dirname "$0")" && pwd)
export DMSIM_SHARDS=$shards
export DMSIM_RESULTS=${DMSIM_RESULTS:-$PWD/dmsim-shards}
mkdir -p "$DMSIM_RESULTS"

# Tasks run in this directory (relative trace paths keep working); logs go with the results.
array=$(sbatch --parsable --export=ALL --array="1-$shards" \
  --output="$DMSIM_RESULTS/dmsim-compare-%A_%a.log" "$here/compare.sbatch" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$DMSIM_RESULTS/dmsim-merge-%j.log" "$here/merge.sbatch")
merge=${merge%%;*}
echo "array job $array ($shards shards), merge job $merge; report: ${DMSIM_REPORT:-$DMSIM_RESULTS/report}"
