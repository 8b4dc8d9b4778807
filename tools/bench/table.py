#!/usr/bin/env python3
"""Prints the models benchmark results (JSON lines) as a table with ratios."""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]  # skip compiler logs
for model in ("lgb", "xgb"):
    muse = next(r for r in rows if r.get("model") == model and r["scorer"] == "muse")
    print("\n%s model: %d trees, %d rows; Muse model memory %.1f KiB, load %.2f ms" % (
        {"lgb": "LightGBM", "xgb": "XGBoost"}[model], muse["trees"], muse["rows"], muse["model_bytes"] / 1024, muse["load_ms"]))
    print("%-34s %12s %12s %14s %12s %12s %10s" % ("scorer", "single p50", "single p99", "batch rows/s", "batch ns/row",
                                                   "p50 vs Muse", "load ms"))
    for r in rows:
        if r.get("model") != model:
            continue
        print("%-34s %10.0fns %10.0fns %14.0f %12.1f %11.1fx %10.2f" % (
            r["scorer"], r["single_median_ns"], r["single_p99_ns"], r["batch_rows_per_s"], r["batch_ns_per_row"],
            r["single_median_ns"] / muse["single_median_ns"], r["load_ms"])
              + ("   max|diff| %.2g" % r["max_abs_diff_vs_library"] if "max_abs_diff_vs_library" in r else ""))
for r in rows:
    if "error" in r:
        print("%s failed: %s" % (r["scorer"], r["error"]))
