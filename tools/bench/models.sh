#!/usr/bin/env bash
# Models benchmark: Muse against LightGBM, XGBoost,
# Treelite+TL2cgen and lleaves on the same model files and rows, one thread each.
#   tools/bench/models.sh                    # every fixture (bench_models.py list)
#   tools/bench/models.sh cat63 bench        # some of them
# BENCH_VENV: the venv (default /tmp/muse-bench-venv). Installs its PyPI
# packages into the venv (never needed by the tests), trains the fixtures into
# out/bench-models (once; compiled TL2cgen and lleaves libraries are cached
# there too: delete the directory to start afresh), builds muse-bench-models in
# release, times Muse with each layout (the one the selection rule picks,
# then the lane walk and the bitvector forced), checks every Muse margin bit
# for bit against the library's, times the other scorers, and prints a table.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${BENCH_VENV:-/tmp/muse-bench-venv}
OUT=out/bench-models
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
# lleaves 1.3 uses llvmlite's legacy pass manager, removed in llvmlite 0.44.
"$VENV/bin/pip" install -q numpy lightgbm xgboost treelite tl2cgen lleaves "llvmlite<0.44" >&2
FIXTURES=("$@")
[ ${#FIXTURES[@]} -gt 0 ] || read -r -a FIXTURES <<< "$("$VENV/bin/python" tools/bench/bench_models.py list)"
"$VENV/bin/python" tools/bench/bench_models.py make "$OUT" "${FIXTURES[@]}"
swift build -c release --product muse-bench-models >&2
BIN=$(swift build -c release --show-bin-path)/muse-bench-models
{
  echo "{\"conditions\": \"$(date -u +%FT%TZ) $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)\"}"
  for n in "${FIXTURES[@]}"; do
    model=$OUT/$n.lgb.txt; [ -f "$model" ] || model=$OUT/$n.xgb.json
    for layout in auto walk bitvector; do
      "$BIN" "$model" "$OUT/$n.rows.csv" 100000 --layout "$layout" --expected "$OUT/$n.expected.csv" \
        | sed "s/\"scorer\":\"muse\"/\"scorer\":\"muse $layout\",\"model\":\"$n\"/"
    done
  done
  "$VENV/bin/python" tools/bench/bench_models.py time "$OUT" "${FIXTURES[@]}"
  echo "{\"conditions_after\": \"$(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)\"}"
} > "$OUT/results.jsonl"
"$VENV/bin/python" tools/bench/table.py "$OUT/results.jsonl"
