#!/usr/bin/env bash
# Batch kernels benchmark: per model, the single-event cost, the batch cost
# per row event by event (the scalar path, before the kernels) and with the
# kernels (auto: AVX-512 here; AVX2 forced), in 1000-row and 8-row calls,
# side by side in one run, plus callgrind's instructions per event.
#   tools/bench/batch.sh                       # the benchmark fixtures below
#   tools/bench/batch.sh cat63 small1000       # some of them
#   ROUNDS=5 tools/bench/batch.sh              # rounds per figure (min of their medians)
# The fixtures are trained into out/bench-models by bench_models.py (once;
# BENCH_VENV as for models.sh, needing numpy, lightgbm and xgboost only);
# the test fixtures (Tests/MuseScoringTests/Fixtures/models) are timed too.
# Every margin of every benchmark row is compared bit for bit with the
# library's, single, whole batch and in calls of 8 and 64 rows.
# valgrind runs no AVX-512: the kernels' instructions are counted for AVX2.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${BENCH_VENV:-/tmp/muse-bench-venv}
OUT=out/bench-models
ROUNDS=${ROUNDS:-3}
EVENTS=${EVENTS:-2000}
FIXTURES=("$@")
[ ${#FIXTURES[@]} -gt 0 ] || FIXTURES=(bench bench_xgb cat63 small1000 xgb_cat127)
mkdir -p "$OUT"
missing=()
for n in "${FIXTURES[@]}"; do [ -f "$OUT/$n.expected.csv" ] || missing+=("$n"); done
if [ ${#missing[@]} -gt 0 ]; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy lightgbm xgboost >&2
    "$VENV/bin/python" tools/bench/bench_models.py make "$OUT" "${missing[@]}"
fi
swift build -c release --product muse-bench-models >&2
BIN=$(swift build -c release --show-bin-path)/muse-bench-models
# valgrind 3.19 cannot read the debug information this toolchain writes
# (DWARF 5 forms): callgrind counts a copy without it (symbols kept).
COUNTED=$OUT/muse-bench-models.nodebug
strip --strip-debug -o "$COUNTED" "$BIN"
TESTS=Tests/MuseScoringTests/Fixtures/models
RESULTS=$OUT/batch-results.jsonl
{
  echo "{\"conditions\": \"$(date -u +%FT%TZ) $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)\"}"
  models=()
  for n in "${FIXTURES[@]}"; do
    m=$OUT/$n.lgb.txt; [ -f "$m" ] || m=$OUT/$n.xgb.json
    models+=("$n|$m|$OUT/$n.rows.csv|$OUT/$n.expected.csv")
  done
  for m in "$TESTS"/*.lgb.txt "$TESTS"/*.xgb.json; do
    stem=${m%.txt}; stem=${stem%.json}
    models+=("test:$(basename "$stem")|$m|$stem.rows.csv|")
  done
  for entry in "${models[@]}"; do
    IFS='|' read -r name model rows expected <<< "$entry"
    exp=(); [ -z "$expected" ] || exp=(--expected "$expected")
    for r in $(seq "$ROUNDS"); do
      for k in scalar auto avx2; do
        "$BIN" "$model" "$rows" 20000 --batch-kernel "$k" --batch-sizes 8,64 "${exp[@]}" \
          | sed "s/^{/{\"model\":\"$name\",\"round\":$r,/"
      done
    done
    for k in scalar avx2; do
      for mode in single batch:64; do
        [ "$k/$mode" = "avx2/single" ] && continue
        ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*BenchCountedLoop*' \
               "$COUNTED" "$model" "$rows" "$EVENTS" --batch-kernel "$k" --count "$mode" 2>&1 \
             | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
        echo "{\"model\":\"$name\",\"callgrind\":\"$k $mode\",\"events\":$EVENTS,\"instructions\":$ir}"
      done
    done
  done
  echo "{\"conditions_after\": \"$(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)\"}"
} > "$RESULTS"
python3 tools/bench/batch_table.py "$RESULTS"
