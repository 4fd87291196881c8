#!/usr/bin/env bash
# Benchmark (issue 11 item 6): dmsim's linear target on the real platform (io_uring, O_DIRECT,
# registered buffers) against fio (io_uring, fixed buffers, registered files) on the same loop
# devices in the same run: 4 KiB random reads at queue depth 1 and 32, on a tmpfs-backed and a
# disk-backed loop device (1 GiB each, direct IO). For each of the four cases, ROUNDS rounds of
# one dmsim run and one fio run, alternating which goes first; prints each side's median IOPS,
# the ratio of the medians dmsim/fio, and the load average before and after. Needs root (loop
# devices); installs fio from Debian if it is missing.
#
#   bash bench/real_vs_fio.sh [SECONDS_PER_RUN] [ROUNDS]   (defaults 5, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
rounds=${2:-5}
size_mib=1024

if [ "$(id -u)" != 0 ]; then echo "bench: needs root for loop devices" >&2; exit 1; fi
if ! command -v fio >/dev/null; then
  apt-get update -qq && apt-get install -y -qq fio >/dev/null
fi
cargo build --release -q -p dmsim
dmsim=${CARGO_TARGET_DIR:-target}/release/dmsim

loops=()
files=()
cleanup() {
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  for f in "${files[@]}"; do rm -f "$f"; done
}
trap cleanup EXIT

# Sets $attached. Not called in $(...): the arrays the cleanup trap reads must be filled in
# this shell, not a subshell.
attach() { # $1 = directory of the backing file
  local f="$1/dmsim-bench-$$-$RANDOM.img"
  truncate -s "${size_mib}M" "$f"
  files+=("$f")
  attached=$(losetup --find --show --direct-io=on "$f")
  loops+=("$attached")
}

attach /dev/shm; tmpfs_loop=$attached
attach /var/tmp; disk_loop=$attached

ours() { # $1 = device, $2 = queue depth
  "$dmsim" run --real --dev "$1" --workload randread --bs 4k --qd "$2" \
    --duration "${seconds}s" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["iops"])'
}
theirs() { # $1 = device, $2 = queue depth
  fio --name=bench --filename="$1" --direct=1 --ioengine=io_uring --fixedbufs \
    --registerfiles --rw=randread --bs=4k --iodepth="$2" --runtime="$seconds" --time_based \
    --size="${size_mib}M" --output-format=json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["read"]["iops"])'
}

echo "load before: $(uptime)"
printf '%-6s %-12s %4s %12s %12s %7s  %s\n' medium device qd dmsim_iops fio_iops ratio \
  "dmsim runs / fio runs"
for pair in "tmpfs:$tmpfs_loop" "disk:$disk_loop"; do
  medium=${pair%%:*}; dev=${pair#*:}
  for qd in 1 32; do
    ours_runs=()
    theirs_runs=()
    for round in $(seq 1 "$rounds"); do
      if [ $((round % 2)) = 1 ]; then
        ours_runs+=("$(ours "$dev" "$qd")"); theirs_runs+=("$(theirs "$dev" "$qd")")
      else
        theirs_runs+=("$(theirs "$dev" "$qd")"); ours_runs+=("$(ours "$dev" "$qd")")
      fi
    done
    python3 - "$medium" "$dev" "$qd" "${ours_runs[*]}" "${theirs_runs[*]}" <<'PY'
import statistics, sys
medium, dev, qd = sys.argv[1], sys.argv[2], int(sys.argv[3])
ours = [float(x) for x in sys.argv[4].split()]
theirs = [float(x) for x in sys.argv[5].split()]
o, t = statistics.median(ours), statistics.median(theirs)
runs = " ".join(f"{x:.0f}" for x in ours) + " / " + " ".join(f"{x:.0f}" for x in theirs)
print(f"{medium:<6} {dev:<12} {qd:>4} {o:>12.0f} {t:>12.0f} {o / t:>7.2f}  {runs}")
PY
  done
done
echo "load after: $(uptime)"
