#!/usr/bin/env bash
# Benchmark: dmsim's linear target on the real platform (io_uring, O_DIRECT, registered
# buffers) against fio on the same loop devices in the same run: 4 KiB random reads at queue
# depth 1 and 32, on a tmpfs-backed and a disk-backed loop device. Prints IOPS and the ratio
# dmsim/fio. Needs root (loop devices); installs fio from Debian if it is missing.
#
#   bash bench/real_vs_fio.sh [SECONDS_PER_RUN]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
size_mib=1024

if [ "$(id -u)" != 0 ]; then echo "bench: needs root for loop devices" >&2; exit 1; fi
if ! command -v fio >/dev/null; then
  apt-get update -qq && apt-get install -y -qq fio >/dev/null
fi
cargo build --release -q
dmsim=./target/release/dmsim

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

printf '%-10s %-12s %4s %12s %12s %7s\n' medium device qd dmsim_iops fio_iops ratio
for pair in "tmpfs:$tmpfs_loop" "disk:$disk_loop"; do
  medium=${pair%%:*}; dev=${pair#*:}
  for qd in 1 32; do
    ours=$($dmsim run --real --dev "$dev" --workload randread --bs 4k --qd "$qd" \
      --duration "${seconds}s" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["iops"])')
    theirs=$(fio --name=bench --filename="$dev" --direct=1 --ioengine=io_uring --fixedbufs \
      --registerfiles --rw=randread --bs=4k --iodepth="$qd" --runtime="$seconds" --time_based \
      --size="${size_mib}M" --output-format=json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["read"]["iops"])')
    python3 - "$medium" "$dev" "$qd" "$ours" "$theirs" <<'PY'
import sys
medium, dev, qd, ours, theirs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
print(f"{medium:<10} {dev:<12} {qd:>4} {ours:>12.0f} {theirs:>12.0f} {ours/theirs:>7.2f}")
PY
  done
done
