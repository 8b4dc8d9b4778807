#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs Muse's main job: mused
# serving a real generation (LightGBM and logistic models with their score
# maps, built from the committed fixtures) to three tenants, the example C
# client scoring events through it, then a swap to the retrained generation
# while mused keeps serving.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
for product in mused musectl; do swift build -c release --product "$product"; done
bin=$(swift build -c release --show-bin-path)

runtime=$(mktemp -d /tmp/muse-demo-XXXXXX)
out=$(mktemp -d /tmp/muse-demo-bin-XXXXXX)
trap 'kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$runtime" "$runtime.state" "$out"' EXIT

echo "== building the example generations (snapshots) from examples/generation"
"$bin/musectl" snapshot build examples/generation/manifest.toml -o "$out/gen1.snapshot"
"$bin/musectl" snapshot build examples/generation/manifest-retrained.toml -o "$out/gen2.snapshot"

echo "== starting mused on generation 1"
"$bin/mused" --runtime-dir "$runtime" --state-dir "$runtime.state" --snapshot "$out/gen1.snapshot" \
    --tenant bank-a --tenant shop-b --tenant wallet-c > "$out/mused.log" &
daemon=$!
for _ in $(seq 1 100); do grep -q "event=serving " "$out/mused.log" 2>/dev/null && break; sleep 0.1; done
"$bin/musectl" status --runtime-dir "$runtime"

cc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -I Sources/CMuse/include examples/score_events.c -o "$out/score_events" -lm
echo "== bank-a scores 100,000 card-not-present events on generation 1"
"$out/score_events" "$runtime" bank-a 100000 f_num_0

echo "== swapping to generation 2 (retrained models, freshly fitted maps)"
"$bin/musectl" swap "$out/gen2.snapshot" --runtime-dir "$runtime"
echo "== bank-a scores 100,000 events on generation 2"
"$out/score_events" "$runtime" bank-a 100000 f_num_0
echo "== mused's log"
cat "$out/mused.log"
