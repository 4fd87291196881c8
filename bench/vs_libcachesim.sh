#!/usr/bin/env bash
# Benchmark (issue 11 item 2): exact hit counts from `dmsim hits` against libCacheSim on the
# same request stream in the same run. The stream: a Zipf(0.9) stream of 4 KiB block
# references (libCacheSim's oracleGeneral format, generated with a fixed seed). The caches:
# libCacheSim's LRU of N objects, and flashcache in writethrough with one fully associative
# set of N blocks and one plain LRU list (`--assoc full --policy lru-strict`), whose hits are
# libCacheSim's (tests/flashcache_libcachesim.rs); the script checks that they are equal.
# Runs alternate, three of each; prints each side's median requests per second and the
# ratio dmsim/libCacheSim. dmsim's time is the whole process (start, trace read, setup,
# run, summary; `--fit refuse`: the stream fits the volume, so the trace is read once, as
# libCacheSim reads it); libCacheSim's is its process_trace call alone. The same spans'
# CPU time (user + system; dmsim's whole process, libCacheSim's process during
# process_trace) gives a second ratio: on a machine busy with other work the wall-clock
# ratio moves with how the scheduler shares the cores, the CPU ratio much less. Installs
# nothing beyond `pip install -r tests/requirements.txt`. Figures and profile: bench/hits.md.
#
#   bash bench/vs_libcachesim.sh [REQUESTS] [CACHE_BLOCKS]   (defaults 2000000, 65536)
#   DMSIM=path/to/dmsim bash bench/vs_libcachesim.sh   (that binary, not this tree's build:
#                                                       another commit's, for a comparison)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-2000000}
blocks=${2:-65536}
objects=$((requests / 2))

python3 -m pip install -q -r tests/requirements.txt
if [ -n "${DMSIM:-}" ]; then
  dmsim=$DMSIM
else
  cargo build --release -q -p dmsim
  dmsim=${CARGO_TARGET_DIR:-./target}/release/dmsim
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trace=$work/zipf.oracleGeneral
python3 bench/vs_libcachesim.py generate "$requests" "$objects" 0.9 1 "$trace"

ours=()
theirs=()
ours_cpu=()
theirs_cpu=()
for round in 1 2 3; do
  read -r seconds n hits cpu_seconds < <(python3 bench/vs_libcachesim.py run "$trace" "$blocks")
  theirs+=("$seconds")
  theirs_cpu+=("$cpu_seconds")
  lcs_hits=$hits
  start=$(date +%s%N)
  "$dmsim" hits "$trace" --format oracle-general --mode writethrough --policy lru-strict \
    --assoc full --cache-blocks "$blocks" --fit refuse --json >"$work/hits.json"
  end=$(date +%s%N)
  ours+=("$(( end - start ))e-9")
  # The CPU time from a second run of the same command (the timed run above stays a bare
  # process start, as before).
  ours_cpu+=("$(python3 bench/vs_libcachesim.py cpu "$work/hits-cpu.json" "$dmsim" hits \
    "$trace" --format oracle-general --mode writethrough --policy lru-strict --assoc full \
    --cache-blocks "$blocks" --fit refuse --json)")
  cmp -s "$work/hits.json" "$work/hits-cpu.json" || {
    echo "bench: two runs of dmsim hits printed different results" >&2
    exit 1
  }
  dmsim_hits=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["read_hits"])' "$work/hits.json")
  if [ "$dmsim_hits" != "$lcs_hits" ]; then
    echo "bench: hit counts differ: dmsim $dmsim_hits, libCacheSim $lcs_hits" >&2
    exit 1
  fi
done

python3 - "$n" "$lcs_hits" "${ours[@]}" "${theirs[@]}" "${ours_cpu[@]}" "${theirs_cpu[@]}" <<'PY'
import statistics, sys
n, hits = int(sys.argv[1]), int(sys.argv[2])
ours = [float(x) for x in sys.argv[3:6]]
theirs = [float(x) for x in sys.argv[6:9]]
ours_cpu = [float(x) for x in sys.argv[9:12]]
theirs_cpu = [float(x) for x in sys.argv[12:15]]
ours_rate = n / statistics.median(ours)
theirs_rate = n / statistics.median(theirs)
print(f"stream: {n} requests, {hits} hits (equal on both sides)")
print(f"dmsim hits:  {ours_rate:12.0f} requests/s  (runs {', '.join(f'{s:.3f}' for s in ours)} s)")
print(f"libCacheSim: {theirs_rate:12.0f} requests/s  (runs {', '.join(f'{s:.3f}' for s in theirs)} s)")
print(f"ratio dmsim/libCacheSim: {ours_rate / theirs_rate:.2f}")
ours_cpu_rate = n / statistics.median(ours_cpu)
theirs_cpu_rate = n / statistics.median(theirs_cpu)
print(f"CPU time: dmsim {ours_cpu_rate:.0f} requests per CPU second "
      f"(runs {', '.join(f'{s:.3f}' for s in ours_cpu)} s), libCacheSim {theirs_cpu_rate:.0f} "
      f"(runs {', '.join(f'{s:.3f}' for s in theirs_cpu)} s): ratio {ours_cpu_rate / theirs_cpu_rate:.2f}")
PY
