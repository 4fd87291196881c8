#!/usr/bin/env bash
# Which engine mutants sit on lines the explorer's CI tier never executes (issue 9 item 7).
# Such a mutant survives whatever the oracles are: the tier must first drive the path. The
# tier is built with LLVM's source-based coverage, run once, and every mutant of
# `cargo mutants --list -p dmsim-engine` is looked up by its line.
#
#   bash bench/tier_coverage.sh        (about 10 minutes on two cores; prints a summary)
#
# Writes target/tier-coverage/{tier.lcov,unexecuted.txt}; unexecuted.txt lists each mutant on
# an unexecuted line. Needs the toolchain's llvm-tools (`rustup component add llvm-tools`)
# and cargo-mutants.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/tier-coverage
export CARGO_TARGET_DIR=${TIER_COVERAGE_TARGET:-target/tier-coverage/build}
mkdir -p "$out"
rm -f "$out"/*.profraw

host=$(rustc -vV | sed -n 's/^host: //p')
tools="$(rustc --print sysroot)/lib/rustlib/$host/bin"
[ -x "$tools/llvm-cov" ] || {
  echo "tier_coverage.sh: llvm-cov missing: rustup component add llvm-tools" >&2
  exit 2
}
command -v cargo-mutants >/dev/null || {
  echo "tier_coverage.sh: cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
  exit 2
}

export RUSTFLAGS="-C instrument-coverage"
# Build scripts are instrumented too; their profiles must not land in the checkout.
export LLVM_PROFILE_FILE="$PWD/$out/build-%p-%m.profraw"
binary=$(cargo test -q -p dmsim-explore --test ci_tier --no-run --message-format=json |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "ci_tier":
        print(m["executable"])')
rm -f "$out"/build-*.profraw
LLVM_PROFILE_FILE="$PWD/$out/tier-%p-%m.profraw" "$binary" -q >/dev/null
"$tools/llvm-profdata" merge -sparse "$out"/tier-*.profraw -o "$out/tier.profdata"
"$tools/llvm-cov" export --format=lcov --instr-profile="$out/tier.profdata" "$binary" \
  >"$out/tier.lcov"
unset RUSTFLAGS LLVM_PROFILE_FILE
env -u CARGO_TARGET_DIR cargo mutants --package dmsim-engine --list >"$out/mutants.txt"

python3 - "$out" <<'EOF'
import collections, os, sys
out = sys.argv[1]
root = os.getcwd() + "/"
counts = {}  # (file, line) -> hits; a line with several regions keeps its largest count
source = None
for line in open(f"{out}/tier.lcov"):
    line = line.strip()
    if line.startswith("SF:"):
        source = line[3:].removeprefix(root)
    elif line.startswith("DA:") and source is not None:
        number, hits = line[3:].split(",")[:2]
        key = (source, int(number))
        counts[key] = max(counts.get(key, 0), int(hits))
mutants = [m.rstrip("\n") for m in open(f"{out}/mutants.txt") if m.strip()]
unexecuted, by_file = [], collections.Counter()
for mutant in mutants:
    path, number = mutant.split(":")[:2]
    # A line the map does not list holds no code of its own (a declaration): count it run.
    if counts.get((path, int(number)), 1) == 0:
        unexecuted.append(mutant)
        by_file[path] += 1
with open(f"{out}/unexecuted.txt", "w") as f:
    f.write("".join(m + "\n" for m in unexecuted))
share = 100 * len(unexecuted) / max(len(mutants), 1)
print(f"{len(unexecuted)} of {len(mutants)} engine mutants ({share:.1f} %) on lines the tier never executes")
for path, n in by_file.most_common(15):
    print(f"{n:6d}  {path}")
print(f"each listed in {out}/unexecuted.txt")
EOF
