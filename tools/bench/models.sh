#!/usr/bin/env bash
# Models benchmark (issue 4): Muse against LightGBM, XGBoost, Treelite+TL2cgen
# and lleaves on the same model files and rows, one thread each.
#   tools/bench/models.sh            # venv in $BENCH_VENV (default /tmp/muse-bench-venv)
# Installs its PyPI packages into the venv (never needed by the tests), trains
# the models into out/bench-models, builds muse-bench-models in release, and
# prints a side-by-side table.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${BENCH_VENV:-/tmp/muse-bench-venv}
OUT=out/bench-models
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
# lleaves 1.3 uses llvmlite's legacy pass manager, removed in llvmlite 0.44.
"$VENV/bin/pip" install -q numpy lightgbm xgboost treelite tl2cgen lleaves "llvmlite<0.44" >&2
[ -f "$OUT/bench.rows.csv" ] || "$VENV/bin/python" tools/bench/bench_models.py make "$OUT"
swift build -c release --product muse-bench-models >&2
BIN=$(swift build -c release --show-bin-path)/muse-bench-models
{
  "$BIN" "$OUT/bench.lgb.txt" "$OUT/bench.rows.csv" | sed 's/"scorer":"muse"/"scorer":"muse","model":"lgb"/'
  "$BIN" "$OUT/bench.xgb.json" "$OUT/bench.rows.csv" | sed 's/"scorer":"muse"/"scorer":"muse","model":"xgb"/'
  "$VENV/bin/python" tools/bench/bench_models.py time "$OUT"
} > "$OUT/results.jsonl"
"$VENV/bin/python" tools/bench/table.py "$OUT/results.jsonl"
