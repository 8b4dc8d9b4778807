#!/usr/bin/env bash
# MUSE's loop on a fresh machine: installs what is missing, builds, and starts
# mused serving generation 1 (examples/demo/manifest.toml: a LightGBM model,
# each tenant's map fitted on 20,000 events of its past traffic) to two
# tenants whose clients (examples/demo_tenant.c) stream events, every one new,
# each tenant from its own mix. A third of the way in, `musectl candidate add` puts a retrained
# model in shadow; two thirds in, `musectl promote` publishes it with each
# tenant's map fitted on the traffic it shadowed. At the end, per tenant and
# generation: throughput, latency, and the alert rate at the tenants' two
# thresholds (the reference scale's 5% and 1% points) with its sampling
# error, beside what the raw model score would have given. Then stops mused.
#
#   tools/demo.sh                     # about a minute once built
#   MUSE_DEMO_SECONDS=30 tools/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${MUSE_DEMO_SECONDS:-24}      # how long the clients stream, in three equal phases
# The reference is Beta(2,5): 5% of it lies above 0.5818, 1% above 0.7057.
thresholds=0.5818,0.7057
in_flight=8                           # events each client keeps in flight
# Each tenant's mix, RISKY:SHIFT:MISSING (demo_tenant.c): the share of events
# shifted toward risk, by how many standard deviations, and how often a
# feature is missing.
declare -A mix=([demo-a]=0.05:1.5:0.02 [demo-b]=0.20:0.8:0.10)
candidate=Tests/MuseScoringTests/Fixtures/models/many_shallow.xgb.json   # the retrained model (XGBoost this time)

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
musectl() { "$bin/musectl" "$@" --runtime-dir "$runtime"; }

cc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -I Sources/CMuse/include examples/demo_tenant.c -o "$work/demo_tenant" -lm
# Generation 1 as the demo manifest has it, its maps fitted on each tenant's
# past traffic: events of the tenant's mix from another seed than the stream's.
features=$(sed -nE 's/^features = \[(.*)\]$/\1/p' examples/demo/manifest.toml | tr -d '" ' | tr ',' ' ')
history=100
rows=""
for tenant in demo-a demo-b; do
    # shellcheck disable=SC2086 # one argument per feature name
    "$work/demo_tenant" --rows "${mix[$tenant]}" "$history" 20000 $features >"$work/$tenant.history.csv"
    rows+="${rows:+, }$tenant = \"$work/$tenant.history.csv\""
    history=$((history + 1))
done
sed -e "s|\.\./\.\./|$PWD/|g" -e "s|^rows = .*|rows = { $rows }|" examples/demo/manifest.toml >"$work/gen1.toml"
"$bin/musectl" snapshot build "$work/gen1.toml" -o "$work/gen1.snapshot" >/dev/null
cat >"$work/mused.toml" <<EOF
workers = 1

[[tenant]]
name = "demo-a"
alert_thresholds = [${thresholds}]

[[tenant]]
name = "demo-b"
alert_thresholds = [${thresholds}]
EOF

echo "== starting mused: generation 1 (examples/demo/manifest.toml, maps fitted on each tenant's past traffic)"
mkdir -m 0700 "$runtime"
"$bin/mused" --config "$work/mused.toml" --runtime-dir "$runtime" --state-dir "$work/state" \
    --snapshot "$work/gen1.snapshot" >"$work/mused.log" 2>&1 &
daemon=$!
for _ in $(seq 1 100); do grep -q "event=serving " "$work/mused.log" 2>/dev/null && break; sleep 0.1; done
grep -q "event=serving " "$work/mused.log" || { cat "$work/mused.log"; exit 1; }

phase=$(awk -v s="$seconds" 'BEGIN { print s / 3 }')
echo "== demo-a (mix ${mix[demo-a]}) and demo-b (mix ${mix[demo-b]}) stream new events, ${phase} s per phase"
clients=()
seed=1
for tenant in demo-a demo-b; do
    # They stream until told to stop (SIGTERM), a phase after the promotion.
    "$work/demo_tenant" "$runtime" "$tenant" "${mix[$tenant]}" "$seed" 3600 "$thresholds" "$in_flight" \
        "$work/$tenant.progress" >"$work/$tenant.out" &
    clients+=($!)
    seed=$((seed + 1))
done

# The progress line; the two commands after the first and second phase,
# the clients stopped after the third.
progress() {
    local line elapsed
    elapsed=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
    line="  ${elapsed} s"
    for tenant in demo-a demo-b; do
        read -r events generation <"$work/$tenant.progress" 2>/dev/null || { events=0; generation=-; }
        line+="   $tenant: $events events (generation $generation)"
    done
    printf '\r%-96s' "$line"
}
since() { awk -v s="$1" -v n="$(date +%s.%N)" -v t="$phase" 'BEGIN { exit !(n - s >= t) }'; }
start=$(date +%s.%N)
step=0
while kill -0 "${clients[@]}" 2>/dev/null; do
    progress
    if [ "$step" = 0 ] && since "$start"; then
        printf '\n'
        echo "== musectl candidate add $candidate --name cnp-v2   (the retrained model, in shadow)"
        musectl candidate add "$candidate" --name cnp-v2 | sed 's/^/   /'
        step=1
        start=$(date +%s.%N)
    elif [ "$step" = 1 ] && since "$start"; then
        printf '\n'
        echo "== musectl promote cnp-v2   (its maps fitted on the traffic it shadowed)"
        musectl promote cnp-v2 | sed 's/^/   /'
        step=2
        start=$(date +%s.%N)
    elif [ "$step" = 2 ] && since "$start"; then
        kill -TERM "${clients[@]}" 2>/dev/null || true
        step=3
    fi
    sleep 0.25
done
progress
printf '\n'
failed=0
for pid in "${clients[@]}"; do wait "$pid" || failed=1; done

echo
echo "== per tenant, generation and threshold (latency: submit to completion, ${in_flight} in flight per client)"
echo "                                                          at 0.5818 (5% target)     at 0.7057 (1% target)"
echo "tenant    gen     events   events/s   p50 µs   p99 µs p99.9 µs    alerts  ±1 sd      raw    alerts  ±1 sd      raw"
cat "$work/demo-a.out" "$work/demo-b.out"
echo "Generation 1: the old model, each tenant's map fitted on its past traffic; 2: the same, cnp-v2 in shadow"
echo "(same answers); 3: cnp-v2 answering, each tenant's map fitted on what it shadowed in 2. alerts: the share"
echo "of events whose score (reference scale) is at or above the threshold, ± one standard deviation of that"
echo "share; raw: the same threshold on raw_score (the model's probability after level 1, before the map)."
[ "$failed" -eq 0 ] || { echo "a client failed"; cat "$work/mused.log"; exit 1; }

echo
echo "== stopping mused"
stop_daemon
grep -E "event=(serving|generation-published|candidate-added|promoted|stopping|stopped) " "$work/mused.log" | cut -c1-160 || true
