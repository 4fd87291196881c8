#!/usr/bin/env python3
"""A synthetic MSR Cambridge CSV trace of N records, the same bytes for the same N and seed.

Used by bench/big_trace.sh (issue 11 item 5) to stream a large trace through `dmsim replay`;
the output is not committed. The shape is loosely an MSR server volume: 60 % reads, request
sizes of 4-64 KiB (half of them 4 KiB), 80 % of requests in a hot 256 MiB region and the
rest spread over 4 GiB (so the written footprint stops growing early and what still grows
is what a replay keeps per record), arrivals about 200 us apart. Only the byte stream matters here, not
realism: the trace exercises every record-count-proportional path of a replay.

    python3 bench/gen_msr_trace.py RECORDS [SEED] > trace.csv
"""

import random
import sys

HOT_BYTES = 256 << 20
SPAN_BYTES = 4 << 30
BLOCK = 4096
# Request sizes in 4 KiB blocks and their weights: 3.1 blocks on average.
SIZES_BLOCKS = [1, 2, 4, 8, 16]
SIZE_WEIGHTS = [50, 20, 15, 10, 5]
# 2009-ish FILETIME (100 ns ticks since 1601), as the MSR traces have.
START_TICKS = 128166385295514663


def main() -> None:
    records = int(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if records < 1:
        sys.exit("gen_msr_trace: RECORDS must be at least 1")
    rng = random.Random(seed)
    out = sys.stdout
    ticks = START_TICKS
    lines = []
    for _ in range(records):
        ticks += 1 + int(rng.expovariate(1 / 2000))
        op = "Read" if rng.random() < 0.6 else "Write"
        size = BLOCK * rng.choices(SIZES_BLOCKS, SIZE_WEIGHTS)[0]
        region = HOT_BYTES if rng.random() < 0.8 else SPAN_BYTES
        offset = BLOCK * rng.randrange((region - size) // BLOCK)
        response = 20 + rng.randrange(5000)
        lines.append(f"{ticks},bench,0,{op},{offset},{size},{response}\n")
        if len(lines) == 65536:
            out.write("".join(lines))
            lines.clear()
    out.write("".join(lines))


if __name__ == "__main__":
    main()
