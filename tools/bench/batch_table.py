#!/usr/bin/env python3
"""Table of tools/bench/batch.sh's results: per model, the minimum over
rounds of each figure (each figure is itself a median over calls), and
callgrind's instructions per event."""
import json
import sys
from collections import defaultdict

runs = defaultdict(list)
ir = {}
conditions = []
order = []
for line in open(sys.argv[1]):
    d = json.loads(line)
    if "conditions" in d or "conditions_after" in d:
        conditions.append(d.get("conditions") or d.get("conditions_after"))
        continue
    if d["model"] not in order:
        order.append(d["model"])
    if "callgrind" in d:
        ir[(d["model"], d["callgrind"])] = d["instructions"] / d["events"]
    else:
        runs[(d["model"], d["batch_kernel"])].append(d)

for c in conditions:
    print("conditions:", c)
print()
print("%-24s %-10s %-14s %9s %9s %9s %9s %7s %10s %10s %s" % (
    "model", "layouts", "batch kernel", "single", "batch", "batch/8", "batch/64", "vs scal", "Ir single", "Ir batch", "exactness"))
for m in order:
    scalar = runs.get((m, "scalar"))
    if not scalar:
        continue
    base = min(r["batch_ns_per_row"] for r in scalar)
    for k in ["scalar", "auto", "avx2"]:
        rs = runs.get((m, k), [])
        if not rs:
            continue
        r0 = rs[0]
        batch = min(r["batch_ns_per_row"] for r in rs)
        b8 = min(r["batch_ns_per_row_by_size"]["8"] for r in rs)
        b64 = min(r["batch_ns_per_row_by_size"]["64"] for r in rs)
        single = min(r["single_median_ns"] for r in rs)
        differ = max(r["rows_differing_from_library"] for r in rs)
        exact = "n/a (tests)" if differ < 0 else "%d of %d rows differ" % (differ, r0["rows"])
        cg_single = ir.get((m, "scalar single"))
        cg_batch = ir.get((m, k + " batch:64"))
        print("%-24s %-10s %-14s %8.0fn %8.0fn %8.0fn %8.0fn %6.2fx %10s %10s %s" % (
            m, "%s/%s" % (r0["layout"][:4], r0["batch_layout"][:4]), "%s (%s)" % (k, r0["batch_kernel_runs"]),
            single, batch, b8, b64, batch / base,
            "%.0f" % cg_single if cg_single and k == "scalar" else "",
            "%.0f" % cg_batch if cg_batch else "", exact))
