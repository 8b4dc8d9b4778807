#!/usr/bin/env python3
"""Python-side scorers for the models benchmark (driven by tools/bench/models.sh).

`make DIR` trains the benchmark models with LightGBM and XGBoost and writes
them, and the rows to score, into DIR. `time DIR` times LightGBM's own
predict, XGBoost's inplace_predict, Treelite+TL2cgen compiled C and lleaves on
those files and rows, one thread each, and prints one JSON object per line.
"""
import json
import os
import resource
import sys
import time

import numpy as np

N_FEATURES = 30
N_ROWS = 10_000
SINGLE = 3000  # single-row calls timed per scorer


def rows_path(d):
    return os.path.join(d, "bench.rows.csv")


def make(d):
    import lightgbm as lgb
    import xgboost as xgb
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(20_000, N_FEATURES))
    X[rng.random(X.shape) < 0.05] = np.nan
    logit = np.nan_to_num(X[:, 0] * 2 - X[:, 1] + X[:, 2] * X[:, 3] + np.sin(X[:, 4] * 3))
    y = (logit + rng.logistic(size=len(X)) > 1).astype(int)
    names = ["f%02d" % j for j in range(N_FEATURES)]
    b = lgb.train(dict(objective="binary", num_leaves=31, learning_rate=0.05, verbose=-1, num_threads=2, seed=1),
                  lgb.Dataset(X, y, feature_name=names), 500)
    b.save_model(os.path.join(d, "bench.lgb.txt"))
    bx = xgb.train(dict(objective="binary:logistic", max_depth=6, eta=0.05, nthread=2, seed=1, tree_method="hist"),
                   xgb.DMatrix(X, y, feature_names=names), 500)
    bx.save_model(os.path.join(d, "bench.xgb.json"))
    R = X[:N_ROWS]
    with open(rows_path(d), "w") as f:
        f.write(",".join(names) + "\n")
        for r in R:
            f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in r) + "\n")


def load_rows(d):
    return np.genfromtxt(rows_path(d), delimiter=",", skip_header=1, missing_values="", filling_values=np.nan)


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def single(fn, X):
    out = []
    for i in range(200):
        fn(X[i:i + 1])
    for i in range(SINGLE):
        r = X[(i * 7919) % len(X):][:1]
        t0 = time.perf_counter_ns()
        fn(r)
        out.append(time.perf_counter_ns() - t0)
    out.sort()
    return out[len(out) // 2], out[int(len(out) * 0.99)]


def batch(fn, X):
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter_ns()
        fn(X)
        best = min(best, time.perf_counter_ns() - t0)
    return len(X) / (best / 1e9), best / len(X)


def report(scorer, model, fn, X, load_ms, mem, ref=None):
    med, p99 = single(fn, X)
    rps, nspr = batch(fn, X)
    res = dict(scorer=scorer, model=model, single_median_ns=med, single_p99_ns=p99, batch_rows_per_s=rps,
               batch_ns_per_row=nspr, load_ms=load_ms, rss_delta_bytes=mem)
    if ref is not None:
        res["max_abs_diff_vs_library"] = float(np.max(np.abs(fn(X[:2000]).reshape(-1) - ref[:2000])))
    print(json.dumps(res), flush=True)


def timed_load(f):
    before = rss()
    t0 = time.perf_counter_ns()
    obj = f()
    return obj, (time.perf_counter_ns() - t0) / 1e6, rss() - before


def time_all(d):
    import lightgbm as lgb
    import xgboost as xgb
    X = load_rows(d)
    lgb_path, xgb_path = os.path.join(d, "bench.lgb.txt"), os.path.join(d, "bench.xgb.json")

    b, ms, mem = timed_load(lambda: lgb.Booster(model_file=lgb_path))
    ref_lgb = b.predict(X, num_threads=1)
    report("lightgbm predict", "lgb", lambda x: b.predict(x, num_threads=1), X, ms, mem)

    bx, ms, mem = timed_load(lambda: xgb.Booster(model_file=xgb_path, params={"nthread": 1}))
    ref_xgb = bx.inplace_predict(X)
    report("xgboost inplace_predict", "xgb", lambda x: bx.inplace_predict(x), X, ms, mem)

    try:
        import treelite
        import tl2cgen
        for tag, path, loader in (("lgb", lgb_path, lambda p: treelite.frontend.load_lightgbm_model(p)),
                                  ("xgb", xgb_path, lambda p: treelite.frontend.load_xgboost_model(p))):
            lib = os.path.join(d, "tl2cgen_%s.so" % tag)
            t0 = time.perf_counter_ns()
            tl2cgen.export_lib(loader(path), toolchain="gcc", libpath=lib, params={"parallel_comp": 8}, nthread=2)
            compile_s = (time.perf_counter_ns() - t0) / 1e9
            pred, ms, mem = timed_load(lambda: tl2cgen.Predictor(lib, nthread=1))
            dtype = np.float64 if tag == "lgb" else np.float32  # each library's own input precision
            fn = lambda x, dtype=dtype: pred.predict(tl2cgen.DMatrix(np.ascontiguousarray(x, dtype=dtype)))
            report("treelite+tl2cgen (compile %.0fs)" % compile_s, tag, fn, X, ms, mem,
                   ref_lgb if tag == "lgb" else ref_xgb)
    except Exception as e:  # reported, not hidden
        print(json.dumps(dict(scorer="treelite+tl2cgen", error=repr(e))), flush=True)

    try:
        import lleaves
        m = lleaves.Model(model_file=lgb_path)
        t0 = time.perf_counter_ns()
        m.compile(cache=os.path.join(d, "lleaves.o"))
        compile_s = (time.perf_counter_ns() - t0) / 1e9
        report("lleaves (compile %.0fs)" % compile_s, "lgb", lambda x: m.predict(x, n_jobs=1), X, 0.0, 0, ref_lgb)
    except Exception as e:
        print(json.dumps(dict(scorer="lleaves", error=repr(e))), flush=True)


if __name__ == "__main__":
    cmd, d = sys.argv[1], sys.argv[2]
    make(d) if cmd == "make" else time_all(d)
