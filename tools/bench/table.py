#!/usr/bin/env python3
"""Prints the models benchmark results (JSON lines) as one table per fixture.

Ratios are to lleaves' batch cost per row on LightGBM fixtures (the goal:
Muse at or below it, single event included, and 2x below on cat63), and
to the fastest other scorer's batch cost on XGBoost fixtures (lleaves reads
only LightGBM models)."""
import json
import sys

lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]  # skip compiler logs
for l in lines:
    for k in ("conditions", "conditions_after"):
        if k in l:
            print("%s: %s" % (k, l[k]))
rows = [l for l in lines if "scorer" in l]
models = []
for r in rows:
    if r.get("model") and r["model"] not in models:
        models.append(r["model"])
for model in models:
    rs = [r for r in rows if r.get("model") == model and "error" not in r]
    muse = [r for r in rs if r["scorer"].startswith("muse")]
    if not muse:
        continue
    m = muse[0]
    st = m.get("bitvector_stats", {})
    ref = next((r for r in rs if r["scorer"] == "lleaves"), None)
    others = [r for r in rs if not r["scorer"].startswith("muse")]
    if ref is None and others:
        ref = min(others, key=lambda r: r["batch_ns_per_row"])
    print("\n%s: %d trees, %d leaves, %d features, %d categorical splits; %d rows; Muse picks %s; Muse model memory %.0f KiB, load %.0f ms"
          % (model, m["trees"], st.get("leaves", 0), m.get("features", 0), st.get("categorical_nodes", 0), m["rows"],
             m["layout"], m["model_bytes"] / 1024, m["load_ms"]))
    print("%-30s %11s %11s %13s %16s %16s %s" % ("scorer", "single p50", "single p99", "batch ns/row",
                                                 "single/ref batch", "batch/ref batch", "exactness"))
    for r in rs:
        exact = ""
        if "rows_differing_from_library" in r:
            exact = "%d rows differ (bits)" % r["rows_differing_from_library"]
        elif "max_abs_diff_vs_library" in r:
            exact = "max|diff| %.2g" % r["max_abs_diff_vs_library"]
        name = r["scorer"] + (" (%s)" % r["layout"] if r["scorer"] == "muse auto" else "")
        if r.get("compile_s"):
            name += " [compiled %.0fs]" % r["compile_s"]
        print("%-30s %9.0fns %9.0fns %13.1f %15.2fx %15.2fx   %s" % (
            name, r["single_median_ns"], r["single_p99_ns"], r["batch_ns_per_row"],
            r["single_median_ns"] / ref["batch_ns_per_row"] if ref else float("nan"),
            r["batch_ns_per_row"] / ref["batch_ns_per_row"] if ref else float("nan"), exact))
    if ref:
        print("(ref batch = %s, %.1f ns/row)" % (ref["scorer"], ref["batch_ns_per_row"]))
for r in rows:
    if "error" in r:
        print("%s on %s failed: %s" % (r["scorer"], r.get("model"), r["error"]))
