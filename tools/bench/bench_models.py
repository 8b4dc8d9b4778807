#!/usr/bin/env python3
"""Python-side scorers for the models benchmark (driven by tools/bench/models.sh).

`make DIR [NAME...]` trains the benchmark models with LightGBM and XGBoost and
writes, for each fixture NAME, into DIR: the model (NAME.lgb.txt or
NAME.xgb.json), the rows to score (NAME.rows.csv) and the library's own raw
margins for those rows (NAME.expected.csv, %.17g), so Muse's exactness is
checked on every benchmark model, not only on the test fixtures.
`time DIR [NAME...]` times LightGBM's own predict, XGBoost's predict, Treelite+
TL2cgen compiled C and lleaves on those files and rows, one thread each, and
prints one JSON object per line. `list` prints the fixture names.

The fixtures after `bench` (the first fraud-shaped model) are shaped like fraud models:
hundreds of trees of 31-255 leaves, categorical features with dozens of
categories (some of them unseen in training), 5-20 % missing values, 8-200
features. Nothing here is committed: the files are generated in the run.
"""
import json
import os
import resource
import sys
import time

import numpy as np

N_ROWS = 10_000
SINGLE = 3000  # single-row calls timed per scorer

# name: library, trees, leaves (LightGBM num_leaves / XGBoost max_leaves), numeric
# features, categorical features, categories per categorical feature, NaN rate.
SHAPES = {
    "bench":       dict(lib="lgb", trees=500, leaves=31, num=30, cat=0, levels=0, nan=0.05),
    "bench_xgb":   dict(lib="xgb", trees=500, depth=6, num=30, cat=0, levels=0, nan=0.05),
    "cat63":       dict(lib="lgb", trees=300, leaves=63, num=40, cat=8, levels=60, nan=0.10),
    "small1000":   dict(lib="lgb", trees=1000, leaves=31, num=6, cat=2, levels=24, nan=0.20),
    "wide255":     dict(lib="lgb", trees=300, leaves=255, num=190, cat=10, levels=40, nan=0.05),
    "xgb_cat127":  dict(lib="xgb", trees=400, leaves=127, num=30, cat=6, levels=50, nan=0.15),
}


def names_of(s):
    return ["num%03d" % j for j in range(s["num"])] + ["cat%02d" % j for j in range(s["cat"])]


def data(s, n, seed):
    rng = np.random.default_rng(seed)
    num, cat, levels = s["num"], s["cat"], s["levels"]
    X = rng.normal(size=(n, num + cat))
    # Categories: Zipf-like frequencies, as merchant or country codes are.
    for j in range(num, num + cat):
        p = 1.0 / np.arange(1, levels + 1) ** 0.8
        X[:, j] = rng.choice(levels, size=n, p=p / p.sum())
    w = rng.normal(size=num) * (rng.random(num) < 0.5)
    logit = X[:, :num] @ w * 0.3 + np.sin(X[:, 0] * 2) + X[:, 1] * X[:, min(2, num - 1)]
    for j in range(num, num + cat):
        effect = np.random.default_rng(seed + j).normal(size=levels)
        logit += effect[X[:, j].astype(int)]
    y = (logit + rng.logistic(size=n) > 2.0).astype(int)  # a few % positives... not too few
    X[rng.random(X.shape) < s["nan"]] = np.nan
    return X, y


def scoring_rows(s, seed):
    X, _ = data(s, N_ROWS, seed)
    rng = np.random.default_rng(seed + 1)
    # 2 % of categorical values unseen in training (new merchants): beyond the levels.
    for j in range(s["num"], s["num"] + s["cat"]):
        m = rng.random(N_ROWS) < 0.02
        X[m, j] = s["levels"] + rng.integers(0, 10, size=m.sum())
    return X


def paths(d, name):
    s = SHAPES[name]
    model = os.path.join(d, name + (".lgb.txt" if s["lib"] == "lgb" else ".xgb.json"))
    return model, os.path.join(d, name + ".rows.csv"), os.path.join(d, name + ".expected.csv")


def make(d, names):
    import lightgbm as lgb
    import xgboost as xgb
    os.makedirs(d, exist_ok=True)
    for name in names:
        s = SHAPES[name]
        model_path, rows_path, expected_path = paths(d, name)
        if os.path.exists(expected_path):
            continue
        t0 = time.time()
        fn = names_of(s)
        X, y = data(s, 40_000 if s.get("leaves", 0) >= 127 else 20_000, 5)
        cats = list(range(s["num"], s["num"] + s["cat"]))
        R = scoring_rows(s, 77)
        if s["lib"] == "lgb":
            p = dict(objective="binary", num_leaves=s["leaves"], learning_rate=0.05, verbose=-1, num_threads=2, seed=1,
                     min_data_in_leaf=5, max_cat_to_onehot=4, cat_smooth=5, min_data_per_group=20, max_bin=255)
            b = lgb.train(p, lgb.Dataset(X, y, feature_name=fn, categorical_feature=cats or "auto"), s["trees"])
            b.save_model(model_path)
            b = lgb.Booster(model_file=model_path)
            raw = b.predict(R, raw_score=True, num_threads=1)
        else:
            types = ["c" if j in cats else "q" for j in range(len(fn))]
            p = dict(objective="binary:logistic", eta=0.05, nthread=2, seed=1, tree_method="hist", max_cat_to_onehot=4)
            if "depth" in s:
                p.update(max_depth=s["depth"])
            else:
                p.update(grow_policy="lossguide", max_leaves=s["leaves"], max_depth=0, min_child_weight=0.5)
            dm = xgb.DMatrix(X, y, feature_names=fn, feature_types=types, enable_categorical=bool(cats))
            b = xgb.train(p, dm, s["trees"])
            b.save_model(model_path)
            b = xgb.Booster(model_file=model_path)
            raw = b.predict(xgb.DMatrix(R, feature_names=fn, feature_types=types, enable_categorical=bool(cats)),
                            output_margin=True)
        with open(rows_path, "w") as f:
            f.write(",".join(fn) + "\n")
            for r in R:
                f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in r) + "\n")
        with open(expected_path + ".tmp", "w") as f:
            f.write("margin\n")
            for m in raw:
                f.write("%.17g\n" % float(m))
        os.rename(expected_path + ".tmp", expected_path)
        print("made %s in %.0f s (%d bytes)" % (name, time.time() - t0, os.path.getsize(model_path)), file=sys.stderr)


def load_rows(path):
    return np.genfromtxt(path, delimiter=",", skip_header=1, missing_values="", filling_values=np.nan)


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


CHUNK = 1000  # rows per batch call


def batch(fn, X):
    """Median over 1000-row calls (3 passes over the rows): on a shared machine
    a whole-matrix call is as likely as not to be preempted, a 1000-row call
    seldom is, and the median ignores those that are."""
    times = []
    for _ in range(3):
        for s in range(0, len(X) - CHUNK + 1, CHUNK):
            x = X[s:s + CHUNK]
            t0 = time.perf_counter_ns()
            fn(x)
            times.append(time.perf_counter_ns() - t0)
    times.sort()
    per_row = times[len(times) // 2] / CHUNK
    return 1e9 / per_row, per_row


def report(scorer, model, fn, X, load_ms, mem, ref=None, compile_s=None):
    med, p99 = single(fn, X)
    rps, nspr = batch(fn, X)
    res = dict(scorer=scorer, model=model, single_median_ns=med, single_p99_ns=p99, batch_rows_per_s=rps,
               batch_ns_per_row=nspr, load_ms=load_ms, rss_delta_bytes=mem)
    if compile_s is not None:
        res["compile_s"] = compile_s
    if ref is not None:
        res["max_abs_diff_vs_library"] = float(np.max(np.abs(fn(X[:2000]).reshape(-1) - ref[:2000])))
    print(json.dumps(res), flush=True)


def timed_load(f):
    before = rss()
    t0 = time.perf_counter_ns()
    obj = f()
    return obj, (time.perf_counter_ns() - t0) / 1e6, rss() - before


def time_one(d, name):
    import lightgbm as lgb
    import xgboost as xgb
    s = SHAPES[name]
    model_path, rows_path, _ = paths(d, name)
    X = load_rows(rows_path)
    fn_names = names_of(s)
    cats = list(range(s["num"], s["num"] + s["cat"]))
    if s["lib"] == "lgb":
        b, ms, mem = timed_load(lambda: lgb.Booster(model_file=model_path))
        ref = b.predict(X, num_threads=1)
        report("lightgbm predict", name, lambda x: b.predict(x, num_threads=1), X, ms, mem)
    else:
        bx, ms, mem = timed_load(lambda: xgb.Booster(model_file=model_path, params={"nthread": 1}))
        if cats:
            types = ["c" if j in cats else "q" for j in range(len(fn_names))]
            fx = lambda x: bx.predict(xgb.DMatrix(x, feature_names=fn_names, feature_types=types,
                                                  enable_categorical=True, nthread=1))
            label = "xgboost predict(DMatrix)"
        else:
            fx, label = (lambda x: bx.inplace_predict(x)), "xgboost inplace_predict"
        ref = fx(X)
        report(label, name, fx, X, ms, mem)

    try:
        import treelite
        import tl2cgen
        loader = treelite.frontend.load_lightgbm_model if s["lib"] == "lgb" else treelite.frontend.load_xgboost_model
        lib = os.path.join(d, "tl2cgen_%s.so" % name)
        compile_s = 0.0
        if not os.path.exists(lib):  # compiled once per generated model
            t0 = time.perf_counter_ns()
            tl2cgen.export_lib(loader(model_path), toolchain="gcc", libpath=lib, params={"parallel_comp": 8}, nthread=2)
            compile_s = (time.perf_counter_ns() - t0) / 1e9
        pred, ms, mem = timed_load(lambda: tl2cgen.Predictor(lib, nthread=1))
        dtype = np.float64 if s["lib"] == "lgb" else np.float32  # each library's own input precision
        fn = lambda x: pred.predict(tl2cgen.DMatrix(np.ascontiguousarray(x, dtype=dtype)))
        report("treelite+tl2cgen", name, fn, X, ms, mem, ref, compile_s)
    except Exception as e:  # reported, not hidden
        print(json.dumps(dict(scorer="treelite+tl2cgen", model=name, error=repr(e)[:300])), flush=True)

    if s["lib"] != "lgb":
        return
    try:
        import lleaves
        m = lleaves.Model(model_file=model_path)
        cache = os.path.join(d, "lleaves_%s.o" % name)
        fresh = not os.path.exists(cache)
        t0 = time.perf_counter_ns()
        m.compile(cache=cache)
        compile_s = (time.perf_counter_ns() - t0) / 1e9 if fresh else 0.0
        report("lleaves", name, lambda x: m.predict(x, n_jobs=1), X, 0.0, 0, ref, compile_s)
    except Exception as e:
        print(json.dumps(dict(scorer="lleaves", model=name, error=repr(e)[:300])), flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "list":
        print(" ".join(SHAPES))
        sys.exit(0)
    d, names = sys.argv[2], sys.argv[3:] or list(SHAPES)
    if cmd == "make":
        make(d, names)
    else:
        for name in names:
            time_one(d, name)
