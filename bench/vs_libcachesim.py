#!/usr/bin/env python3
"""Helper of bench/vs_libcachesim.sh.

  vs_libcachesim.py generate REQUESTS OBJECTS ALPHA SEED PATH
      Write a libCacheSim oracleGeneral trace: REQUESTS references to 4 KiB objects drawn
      from a Zipf(ALPHA) popularity over OBJECTS objects (ranks scattered over the ids by a
      seeded shuffle), every record 4096 bytes. Deterministic for a seed.
  vs_libcachesim.py run PATH CACHE_BLOCKS
      libCacheSim's LRU (cache_size = CACHE_BLOCKS * 4096) over the trace with its C++
      reader and process_trace; prints "<seconds> <requests> <hits> <cpu_seconds>" (both
      times cover process_trace alone: the trace read and the cache, no Python per
      request; cpu_seconds is the process's CPU time over it).
  vs_libcachesim.py cpu OUT COMMAND...
      Run COMMAND with its stdout in OUT; print its CPU seconds (user + system).
"""
import bisect
import random
import struct
import sys
import time


def generate(requests, objects, alpha, seed, path):
    rng = random.Random(seed)
    cdf, total = [], 0.0
    for rank in range(1, objects + 1):
        total += 1.0 / rank**alpha
        cdf.append(total)
    ids = list(range(objects))
    rng.shuffle(ids)
    record = struct.Struct("<IQIq")
    with open(path, "wb") as out:
        chunk = bytearray()
        for _ in range(requests):
            rank = min(bisect.bisect_left(cdf, rng.random() * total), objects - 1)
            chunk += record.pack(0, ids[rank], 4096, -1)
            if len(chunk) >= 1 << 20:
                out.write(chunk)
                chunk.clear()
        out.write(chunk)


def run(path, cache_blocks):
    import libcachesim

    reader = libcachesim.TraceReader(path, libcachesim.TraceType.ORACLE_GENERAL_TRACE)
    cache = libcachesim.LRU(cache_size=cache_blocks * 4096)
    start = time.perf_counter()
    cpu_start = time.process_time()
    miss_ratio, _ = cache.process_trace(reader)
    cpu_seconds = time.process_time() - cpu_start
    seconds = time.perf_counter() - start
    requests = reader.get_num_of_req()
    print(f"{seconds:.6f} {requests} {round(requests * (1.0 - miss_ratio))} {cpu_seconds:.6f}")


def cpu(out_path, command):
    """Runs `command` with its stdout in `out_path`; prints its CPU seconds (user + system,
    from wait4: this child alone, whatever else the caller runs)."""
    import os
    import subprocess

    with open(out_path, "wb") as out:
        child = subprocess.Popen(command, stdout=out)
        # wait4, not Popen.wait: its rusage is this child's alone. Setting returncode
        # tells Popen the child is reaped.
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.stderr.write(f"{command[0]} exited with {child.returncode}\n")
        return 1
    print(f"{usage.ru_utime + usage.ru_stime:.6f}")
    return 0


def main(argv):
    if len(argv) == 7 and argv[1] == "generate":
        generate(int(argv[2]), int(argv[3]), float(argv[4]), int(argv[5]), argv[6])
    elif len(argv) == 4 and argv[1] == "run":
        run(argv[2], int(argv[3]))
    elif len(argv) >= 4 and argv[1] == "cpu":
        return cpu(argv[2], argv[3:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
