#!/usr/bin/env bash
# The lead time of MUSE's loop inside mused: from a model file to serving in
# two commands, with TENANTS tenants streaming. Generation 1 is the demo
# manifest's model routed to every tenant, each tenant's map fitted on
# 20,000 events of its own mix; every tenant's client (examples/demo_tenant.c,
# one event in flight) streams events of that mix. After SECONDS,
# `musectl candidate add` puts the XGBoost fixture model in shadow; after
# SECONDS more, `musectl promote` publishes it. Prints each command's wall
# time (the client's view: the new generation answers from the moment the
# command returns) and the steps mused reports, then the alert rates each
# tenant saw under the promoted generation.
# Usage: tools/bench/loop.sh [--tenants N] [--seconds S] [BIN_DIR]   (BIN_DIR: default the release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
tenants=2
seconds=5
while [ $# -gt 0 ]; do
    case "$1" in
        --tenants) tenants=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        *) break ;;
    esac
done
if [ $# -ge 1 ]; then
    bin=$(cd "$1" && pwd)
else
    for product in mused musectl; do swift build -c release --product "$product" >/dev/null; done
    bin=$(swift build -c release --show-bin-path)
fi
thresholds=0.5818,0.7057
work=$(mktemp -d /tmp/muse-loop-XXXXXX)
runtime="$work/run"
daemon=""
clients=()
cleanup() {
    [ ${#clients[@]} -eq 0 ] || kill -TERM "${clients[@]}" 2>/dev/null || true
    if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
cc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -I Sources/CMuse/include examples/demo_tenant.c -o "$work/demo_tenant" -lm

# Tenant i's mix: a risky share from 2% to 30%, its shift and missing rate varied too.
mix() { awk -v i="$1" -v n="$tenants" 'BEGIN { f = n > 1 ? (i - 1) / (n - 1) : 0; printf "%.3f:%.2f:%.3f", 0.02 + 0.28 * f, 1.5 - 0.7 * f, 0.02 + 0.08 * f }'; }
name() { printf 'lt-%03d' "$1"; }
features=$(sed -nE 's/^features = \[(.*)\]$/\1/p' examples/demo/manifest.toml | tr -d '" ' | tr ',' ' ')
rows=""
for i in $(seq 1 "$tenants"); do
    # shellcheck disable=SC2086 # one argument per feature name
    "$work/demo_tenant" --rows "$(mix "$i")" $((1000 + i)) 20000 $features >"$work/$(name "$i").csv"
    rows+="${rows:+, }$(name "$i") = \"$work/$(name "$i").csv\""
done
{
    # The demo manifest, its maps' rows and its routes for these tenants.
    sed -e "s|\.\./\.\./|$PWD/|g" -e "s|^rows = .*|rows = { $rows }|" -e '/^\[\[routes\]\]/,$d' examples/demo/manifest.toml
    for i in $(seq 1 "$tenants"); do
        printf '[[routes]]\ntenant = "%s"\nintent = "card-not-present"\npredictor = "cnp-v1"\n\n' "$(name "$i")"
    done
    printf '[canaries]\nper_route = 4\nseed = 1\n'
} >"$work/gen1.toml"
"$bin/musectl" snapshot build "$work/gen1.toml" -o "$work/gen1.snapshot" >/dev/null
{
    echo 'workers = 1'
    for i in $(seq 1 "$tenants"); do
        printf '\n[[tenant]]\nname = "%s"\nchannels = 1\nalert_thresholds = [%s]\n' "$(name "$i")" "$thresholds"
    done
} >"$work/mused.toml"
mkdir -m 0700 "$runtime"
"$bin/mused" --config "$work/mused.toml" --runtime-dir "$runtime" --state-dir "$work/state" \
    --snapshot "$work/gen1.snapshot" >"$work/mused.log" 2>&1 &
daemon=$!
for _ in $(seq 1 200); do grep -q "event=serving " "$work/mused.log" 2>/dev/null && break; sleep 0.1; done
grep -q "event=serving " "$work/mused.log" || { cat "$work/mused.log"; exit 1; }
for i in $(seq 1 "$tenants"); do
    "$work/demo_tenant" "$runtime" "$(name "$i")" "$(mix "$i")" "$i" 3600 "$thresholds" 1 >"$work/$(name "$i").out" &
    clients+=($!)
done

echo "muse loop: $tenants tenants streaming (one event in flight each), $seconds s per phase, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
timed() {
    local started ended
    started=$(date +%s%N)
    "$bin/musectl" "$@" --runtime-dir "$runtime" >"$work/command.out"
    ended=$(date +%s%N)
    echo "== musectl $1: $(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", (b - a) / 1e6 }') ms, command to return"
    grep -E '^ *[a-z]+ +[0-9.]+ ms$|published|tenant .*events' "$work/command.out" | sed 's/^ */   /' | head -"$((12 + tenants))"
}
sleep "$seconds"
timed candidate add Tests/MuseScoringTests/Fixtures/models/many_shallow.xgb.json --name cnp-v2
sleep "$seconds"
timed promote cnp-v2
sleep "$seconds"
kill -TERM "${clients[@]}" 2>/dev/null || true
for pid in "${clients[@]}"; do wait "$pid" || true; done
clients=()
echo "== alert rates under the promoted generation (5% and 1% targets; ± one standard deviation)"
awk '$2 == 3 { printf "   %s %8d events   %s %s   %s %s\n", $1, $3, $8, $9, $11, $12 }' "$work"/lt-*.out | head -n 10
[ "$tenants" -le 10 ] || echo "   ... (first 10 of $tenants)"
