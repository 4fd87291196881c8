#!/usr/bin/env python3
"""libCacheSim's hit counts for a stream of 4 KiB block references (the external oracle of
tests/flashcache_libcachesim.rs).

Usage: libcachesim_hits.py <lru|fifo> <refs-file> [--per-request] <cache-blocks>...

refs-file holds one block number per line. Every reference becomes one libCacheSim request
(obj_id = block number, obj_size = 4096) given to `cache.get`, which counts a hit when the
object is cached and inserts it (evicting by the policy) when it is not: reads and writes
alike. A cache of N blocks has cache_size = N * 4096 bytes.

Prints one line per cache size: "<cache-blocks> <hits>", or with --per-request
"<cache-blocks> <0|1 for each reference, space-separated>".
Exit status 3 if libcachesim is not installed.
"""
import sys

try:
    import libcachesim
except ImportError:
    sys.stderr.write(
        "the Python package libcachesim is not installed: pip install libcachesim\n"
    )
    sys.exit(3)

BLOCK_BYTES = 4096


def main(argv):
    if len(argv) < 4 or argv[1] not in ("lru", "fifo"):
        sys.stderr.write(__doc__)
        return 2
    policy = {"lru": libcachesim.LRU, "fifo": libcachesim.FIFO}[argv[1]]
    with open(argv[2]) as refs_file:
        refs = [int(line) for line in refs_file if line.strip()]
    rest = argv[3:]
    per_request = "--per-request" in rest
    sizes = [int(word) for word in rest if word != "--per-request"]
    for blocks in sizes:
        cache = policy(cache_size=blocks * BLOCK_BYTES, hashpower=16)
        outcomes = []
        for block in refs:
            request = libcachesim.Request()
            request.obj_id = block
            request.obj_size = BLOCK_BYTES
            outcomes.append(1 if cache.get(request) else 0)
        if per_request:
            print(blocks, " ".join(str(o) for o in outcomes))
        else:
            print(blocks, sum(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
