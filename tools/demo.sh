#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs Muse's main job: mused
# serving a tenant, and the example C client scoring events through it.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
swift build -c release --product mused
bin=$(swift build -c release --show-bin-path)

runtime=$(mktemp -d /tmp/muse-demo-XXXXXX)
out=$(mktemp -d /tmp/muse-demo-bin-XXXXXX)
trap 'kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$runtime" "$runtime.state" "$out"' EXIT

"$bin/mused" --runtime-dir "$runtime" --state-dir "$runtime.state" --tenant demo &
daemon=$!
for _ in $(seq 1 100); do [ -e "$runtime/demo.muse" ] && break; sleep 0.1; done

cc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -I Sources/CMuse/include examples/score_events.c -o "$out/score_events" -lm
"$out/score_events" "$runtime" demo 100000
