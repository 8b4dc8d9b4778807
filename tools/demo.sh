#!/usr/bin/env bash
# Muse's main job, on a fresh machine: installs what is missing, builds,
# starts mused on its embedded default (tenants demo-a and demo-b served the
# demo generation it carries: a LightGBM model with its score maps), runs both
# tenants' C clients (examples/demo_tenant.c) at once, swaps to a retrained
# generation (examples/demo/manifest-retrained.toml) in the middle of their
# stream, and prints for each tenant and generation the throughput, latency
# percentiles and the alert rate at a fixed reference threshold, beside the
# alert rate the raw model score would have given. Then stops mused cleanly.
#
#   tools/demo.sh                     # about 15 s once built
#   MUSE_DEMO_SECONDS=20 tools/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${MUSE_DEMO_SECONDS:-10}     # how long the clients score
threshold=0.58                        # on the reference scale, Beta(2,5): 5.1% lie above it
in_flight=8                           # events each client keeps in flight

tools/install-deps.sh
echo "== building mused and musectl (release; the first build takes a few minutes)"
for product in mused musectl; do swift build -c release --product "$product"; done
bin=$(swift build -c release --show-bin-path)

work=$(mktemp -d /tmp/muse-demo-XXXXXX)
runtime="$work/run"
daemon=""
stop_daemon() {
    if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
        kill -TERM "$daemon"
        wait "$daemon" || true
    fi
    daemon=""
}
trap 'stop_daemon; rm -rf "$work"' EXIT

cc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -I Sources/CMuse/include examples/demo_tenant.c -o "$work/demo_tenant" -lm
echo "== building the retrained generation: examples/demo/manifest-retrained.toml"
"$bin/musectl" snapshot build examples/demo/manifest-retrained.toml -o "$work/retrained.snapshot"

echo "== starting mused on its embedded default (no configuration, no snapshot)"
mkdir -m 0700 "$runtime"
"$bin/mused" --runtime-dir "$runtime" --state-dir "$work/state" > "$work/mused.log" 2>&1 &
daemon=$!
for _ in $(seq 1 100); do grep -q "event=serving " "$work/mused.log" 2>/dev/null && break; sleep 0.1; done
grep -q "event=serving " "$work/mused.log" || { cat "$work/mused.log"; exit 1; }
"$bin/musectl" status --runtime-dir "$runtime"

echo "== demo-a and demo-b score card-not-present events for ${seconds} s; the swap comes half-way"
declare -A rows=([demo-a]=Tests/MuseScoringTests/Fixtures/models/deep.lgb.rows.csv
                 [demo-b]=Tests/MuseScoringTests/Fixtures/models/many_shallow.xgb.rows.csv)
clients=()
for tenant in demo-a demo-b; do
    "$work/demo_tenant" "$runtime" "$tenant" "${rows[$tenant]}" "$seconds" "$threshold" "$in_flight" \
        "$work/$tenant.progress" > "$work/$tenant.out" &
    clients+=($!)
done

# The progress line, until both clients are done; the swap half-way.
progress() {
    local line elapsed
    elapsed=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
    line="  ${elapsed} s"
    for tenant in demo-a demo-b; do
        read -r events generation < "$work/$tenant.progress" 2>/dev/null || { events=0; generation=-; }
        line+="   $tenant: $events events (generation $generation)"
    done
    printf '\r%-96s' "$line"
}
start=$(date +%s.%N)
swapped=""
while kill -0 "${clients[@]}" 2>/dev/null; do
    progress
    if [ -z "$swapped" ] && awk -v s="$start" -v n="$(date +%s.%N)" -v h="$seconds" 'BEGIN { exit !(n - s >= h / 2) }'; then
        printf '\n'
        echo "== musectl swap to the retrained generation, mid-stream"
        "$bin/musectl" swap "$work/retrained.snapshot" --runtime-dir "$runtime" | sed 's/^/   /'
        swapped=yes
    fi
    sleep 0.25
done
progress
printf '\n'
failed=0
for pid in "${clients[@]}"; do wait "$pid" || failed=1; done

echo
echo "== per tenant and generation (latency: submit to completion, ${in_flight} in flight per client)"
echo "tenant    gen     events   events/s   p50 µs   p99 µs p99.9 µs       alerts   raw alerts"
cat "$work/demo-a.out" "$work/demo-b.out"
echo "alerts: share of events whose score (reference scale) is >= $threshold, the tenants' fixed threshold;"
echo "raw alerts: the same threshold on each completion's raw_score (the model's probability after level 1, before"
echo "the tenant's map). Level 2 keeps the first steady across the swap; the second is what rules on raw scores would see."
[ "$failed" -eq 0 ] || { echo "a client failed"; cat "$work/mused.log"; exit 1; }

echo
echo "== stopping mused"
stop_daemon
grep -E "event=(serving|snapshot-loaded|generation-published|stopping|stopped) " "$work/mused.log" | cut -c1-160 || true
