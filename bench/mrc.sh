#!/usr/bin/env bash
# Benchmark (issue 11 item 3): one `dmsim hits --cache-sizes` grid against the same cells run
# as separate `dmsim hits --cache-size` invocations, in one run, release build.
#
# The trace: tests' tpcc-small.trace (MQSim, DiskSim format, 6,999 records; see
# testdata/traces/README.md) written REPEAT times one after another, each copy's times moved
# after the previous copy's, its addresses unchanged (so later copies reuse what the first
# touched and the curve has a knee), or a TRACE you give (then REPEAT is ignored).
# The grid: SIZES × writeback,writethrough × fifo,lru. Three rounds, alternating:
#   grid        one `hits --cache-sizes SIZES --modes … --policies … --jobs JOBS`
#   serial      each cell as its own `hits --cache-size S --mode M --policy P`, one after another
#   parallel    the same separate invocations, JOBS at a time (xargs -P)
# Each side's time is its whole processes (start, trace read and parse, cells, output). The
# script checks every separate run's counters equal its grid cell's, then prints each side's
# median and the ratios separate/grid (above 1: the grid is faster).
#
#   bash bench/mrc.sh [TRACE|-] [SIZES] [REPEAT] [JOBS]   (defaults -, 4m..256m, 20, nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
trace_arg=${1:--}
sizes=${2:-4m..256m}
repeat=${3:-20}
jobs=${4:-$(nproc)}
modes=writeback,writethrough
policies=fifo,lru

cargo build --release -q -p dmsim
dmsim=${CARGO_TARGET_DIR:-target}/release/dmsim

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$trace_arg" = - ]; then
  trace=$work/tpcc-x$repeat.trace
  awk -v repeat="$repeat" '
    { line[NR] = $0; t[NR] = $1; rest[NR] = substr($0, length($1) + 1) }
    END {
      span = t[NR] - t[1] + 1000
      for (r = 0; r < repeat; r++)
        for (i = 1; i <= NR; i++) printf "%d%s\n", t[i] + r * span, rest[i]
    }' testdata/traces/tpcc-small.trace >"$trace"
else
  trace=$trace_arg
fi

# The grid once, for its cells (the list of separate invocations and the check).
"$dmsim" hits "$trace" --cache-sizes "$sizes" --modes "$modes" --policies "$policies" \
  --jobs "$jobs" --quiet --json >"$work/grid.json"
python3 - "$work/grid.json" >"$work/cells.txt" <<'PY'
import json, sys
for i, c in enumerate(json.load(open(sys.argv[1]))["cells"]):
    print(i, c["cache_size_bytes"], c["mode"], c["policy"])
PY
cells=$(wc -l <"$work/cells.txt")
records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' "$work/grid.json")

now() { date +%s%N; }
single() { # INDEX SIZE MODE POLICY
  "$dmsim" hits "$trace" --cache-size "$2" --mode "$3" --policy "$4" --json >"$work/single-$1.json"
}
export -f single
export dmsim trace work

grid_s=(); serial_s=(); parallel_s=()
for round in 1 2 3; do
  start=$(now)
  "$dmsim" hits "$trace" --cache-sizes "$sizes" --modes "$modes" --policies "$policies" \
    --jobs "$jobs" --quiet --json >"$work/grid-$round.json"
  end=$(now); grid_s+=("$(( end - start ))")
  cmp -s "$work/grid.json" "$work/grid-$round.json" || { echo "bench: the grid's output changed between runs" >&2; exit 1; }

  start=$(now)
  while read -r index size mode policy; do single "$index" "$size" "$mode" "$policy"; done <"$work/cells.txt"
  end=$(now); serial_s+=("$(( end - start ))")

  start=$(now)
  xargs -P "$jobs" -L 1 bash -c 'single "$@"' _ <"$work/cells.txt"
  end=$(now); parallel_s+=("$(( end - start ))")
done

python3 - "$work" "$cells" "$records" "$jobs" "${grid_s[@]}" "${serial_s[@]}" "${parallel_s[@]}" <<'PY'
import json, statistics, sys
work, cells, records, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ns = [int(x) for x in sys.argv[5:]]
grid, serial, parallel = ns[0:3], ns[3:6], ns[6:9]
report = json.load(open(f"{work}/grid.json"))
for i, cell in enumerate(report["cells"]):
    single = json.load(open(f"{work}/single-{i}.json"))
    if single["stats"] != cell["stats"]:
        sys.exit(f"bench: cell {i} ({cell['mode']}/{cell['policy']} at {cell['cache_size_bytes']} bytes) differs from its single run")
med = lambda xs: statistics.median(xs) / 1e9
runs = lambda xs: ", ".join(f"{x / 1e9:.3f}" for x in xs)
print(f"trace: {report['trace']}, {records} records; {cells} cells "
      f"({len(report['sizes_bytes'])} sizes x {len(report['modes'])} modes x {len(report['policies'])} policies); "
      f"jobs {jobs}; every separate run's counters equal its grid cell's")
print(f"grid (one hits --cache-sizes):     {med(grid):8.3f} s  (runs {runs(grid)})")
print(f"separate hits runs, one at a time: {med(serial):8.3f} s  (runs {runs(serial)})")
print(f"separate hits runs, {jobs} at a time:   {med(parallel):8.3f} s  (runs {runs(parallel)})")
print(f"ratio separate/grid: {med(serial) / med(grid):.2f} one at a time, {med(parallel) / med(grid):.2f} {jobs} at a time")
PY
