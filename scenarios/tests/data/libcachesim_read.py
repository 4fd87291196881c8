"""Reads a trace with libCacheSim's own reader and prints one line per request:
`obj_id obj_size clock_time`. Used by scenarios/tests/libcachesim_formats.rs as an external
oracle for dmsim's readers of libCacheSim's formats.

Usage: libcachesim_read.py FORMAT PATH, FORMAT one of vscsi, oracle-general, csv, plain-text.
Exit status 3 when the libcachesim package is missing (`pip install libcachesim`).
"""
import sys

try:
    import libcachesim as lcs
except ImportError:
    sys.exit(3)

kind, path = sys.argv[1], sys.argv[2]
params = lcs.ReaderInitParam(ignore_size_zero_req=False)
if kind == "vscsi":
    trace_type = lcs.TraceType.VSCSI_TRACE
elif kind == "oracle-general":
    trace_type = lcs.TraceType.ORACLE_GENERAL_TRACE
elif kind == "csv":
    # The columns of libCacheSim's bundled cloudPhysicsIO.csv: version,time,op,size,lbn.
    trace_type = lcs.TraceType.CSV_TRACE
    params = lcs.ReaderInitParam(has_header=True, delimiter=",", ignore_size_zero_req=False)
    params.time_field = 2
    params.obj_size_field = 4
    params.obj_id_field = 5
elif kind == "plain-text":
    trace_type = lcs.TraceType.PLAIN_TXT_TRACE
else:
    sys.exit(f"unknown kind {kind}")

reader = lcs.TraceReader(path, trace_type, params)
out = []
for req in reader:
    out.append(f"{req.obj_id} {req.obj_size} {req.clock_time}")
print("\n".join(out))
