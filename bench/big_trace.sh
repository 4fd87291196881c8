#!/usr/bin/env bash
# Benchmark (issue 11 item 5): a big trace streams through `dmsim replay` in bounded memory.
#
# Generates a synthetic MSR Cambridge CSV trace of RECORDS records with a fixed seed
# (bench/gen_msr_trace.py; not committed, written to a temporary directory and removed at
# the end), then replays it with the release build, default settings (writeback, fifo,
# 1 GiB ssd-nvme cache over hdd-7200, QD32) and once per further MODE, and once per
# COMPRESSION of the same trace (gz, zst: decompressed as a stream by dmsim). Each run goes
# under /usr/bin/time -v; the script prints its peak RSS ("Maximum resident set size"), wall
# time, requests per second of wall time, and the number of progress status lines it wrote
# (stderr is not a terminal here: one line every 5 s once a run has taken 10 s). The
# summaries of the plain and compressed traces must be byte-identical (checked).
#
#   bash bench/big_trace.sh [RECORDS] [MODES] [COMPRESSIONS]
#   defaults: 10000000 "writethrough" "zst"; "-" for none, e.g. bash bench/big_trace.sh 1000000 - -
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-10000000}
modes=${2:-writethrough}
compressions=${3:-zst}
[ "$modes" = - ] && modes=
[ "$compressions" = - ] && compressions=

cargo build --release -q -p dmsim
dmsim=${CARGO_TARGET_DIR:-target}/release/dmsim

work=$(mktemp -d "${TMPDIR:-/var/tmp}/dmsim-big-trace.XXXXXX")
trap 'rm -rf "$work"' EXIT
trace=$work/big-msr.csv
python3 bench/gen_msr_trace.py "$records" 1 >"$trace"
echo "trace: $records records, $(($(stat -c %s "$trace") / 1048576)) MiB of MSR CSV; $(uptime)"

# $1 = name, $2 = trace, then extra replay flags.
replay() {
  local name=$1 input=$2
  shift 2
  /usr/bin/time -v "$dmsim" replay "$input" --out "$work/$name" "$@" \
    >"$work/$name.txt" 2>"$work/$name.err"
  python3 - "$name" "$work/$name.err" "$work/$name/summary.json" <<'PY'
import json, re, sys
name, err, summary = sys.argv[1:]
text = open(err).read()
rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
seconds = 0.0
for part in wall.split(":"):
    seconds = seconds * 60 + float(part)
status_lines = [l for l in text.splitlines() if l.startswith("dmsim: replay")]
report = json.load(open(summary))
requests = report["requests"]
print(f"{name:<22} peak RSS {rss_kib / 1024:8.1f} MiB  wall {seconds:8.1f} s  "
      f"{requests / seconds:9.0f} requests/s  requests {requests}  "
      f"verified reads {report['verified_reads']}  data errors {report['data_errors']}  "
      f"status lines {len(status_lines)}")
if status_lines:
    print(f"{'':<22} last status: {status_lines[-1]}")
PY
}

replay default "$trace"
for mode in $modes; do
  replay "$mode" "$trace" --mode "$mode"
done
for compression in $compressions; do
  case $compression in
    gz) gzip -1 -k -c "$trace" >"$trace.gz" ;;
    zst) zstd -q -1 -c "$trace" >"$trace.zst" ;;
    *) echo "big_trace: unknown compression $compression (gz or zst)" >&2; exit 1 ;;
  esac
  replay "default-$compression" "$trace.$compression"
  rm -f "$trace.$compression"
  # The report names the trace by file name; everything else must be the same bytes.
  if ! diff <(sed 's/big-msr\.csv\.'"$compression"'/big-msr.csv/' "$work/default-$compression/summary.json") \
    "$work/default/summary.json" >/dev/null; then
    echo "big_trace: the $compression trace's summary differs from the plain trace's" >&2
    exit 1
  fi
done
