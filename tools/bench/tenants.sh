#!/usr/bin/env bash
# Tenants per host: for each count of tenants configured on one worker (mused
# pinned to CPU 1), mused's CPU while every tenant is idle (over SECONDS), then
# one tenant's latency at one event per millisecond (a C client on CPU 0, the
# other tenants idle). Each mused binary directory given is measured in turn,
# alternating per tenant count, so the figures sit side by side in one run
# (BENCHMARKS.md, "Tenants per host").
# Usage: tools/bench/tenants.sh [--seconds S] [--counts 2,128,129,300,1000] [--workers N] BIN_DIR...
#   e.g. tools/bench/tenants.sh .build/release /work/old/.build/release
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=5
counts=2,128,129,300,1000
workers=1
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --counts) counts=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: tools/bench/tenants.sh [--seconds S] [--counts LIST] [--workers N] BIN_DIR..." >&2; exit 2; }
mkdir -p out
client=out/muse_fair_client
cc -std=c11 -O2 -Wall -pthread -I Sources/CMuse/include Tests/EndToEndTests/clients/muse_fair_client.c -o "$client" -lm
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
printf '| mused | tenants | workers | idle CPU (%% of a core) | p50 µs | p99 µs | p99.9 µs |\n|---|---:|---:|---:|---:|---:|---:|\n'
for count in ${counts//,/ }; do
    for bin in "$@"; do
        dir=$(mktemp -d /tmp/muse-tenants-XXXXXX)
        {
            echo "workers = $workers"
            for t in $(seq 0 $((count - 1))); do
                printf '[[tenant]]\nname = "t%d"\nchannels = 1\nring_depth = 16\nmax_features = 16\n' "$t"
            done
        } >"$dir/mused.toml"
        taskset -c 1 "$bin/mused" --config "$dir/mused.toml" --runtime-dir "$dir/run" --state-dir "$dir/state" >"$dir/log" 2>&1 &
        pid=$!
        for _ in $(seq 400); do grep -q event=serving "$dir/log" 2>/dev/null && break; sleep 0.05; done
        sleep 1
        before=$(ticks $pid)
        sleep "$seconds"
        idle=$(awk -v t=$(( $(ticks $pid) - before )) -v hz="$hz" -v s="$seconds" 'BEGIN { printf "%.2f", 100 * t / hz / s }')
        line=$(taskset -c 0 "$client" paced "$dir/run" t0 1000 "$seconds" | tail -1)
        field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
        printf '| %s | %d | %d | %s | %s | %s | %s |\n' "$bin" "$count" "$workers" "$idle" "$(field p50_us)" "$(field p99_us)" "$(field p999_us)"
        kill $pid; wait $pid 2>/dev/null || true
        rm -rf "$dir"
    done
done
