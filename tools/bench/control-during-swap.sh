#!/usr/bin/env bash
# How long `musectl status` and a metrics scrape take while a swap loads a
# generation that takes seconds (a level-2 map of KNOTS knots), for each mused
# binary directory given, side by side (BENCHMARKS.md, "Control plane during
# a swap"). The generation is built once with this tree's musectl.
# Usage: tools/bench/control-during-swap.sh [--knots N] BIN_DIR...
set -euo pipefail
cd "$(dirname "$0")/../.."
knots=1000000
if [ "${1:-}" = "--knots" ]; then knots=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: tools/bench/control-during-swap.sh [--knots N] BIN_DIR..." >&2; exit 2; }
work=$(mktemp -d /tmp/muse-control-XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$work/big.map" "$knots" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write(f"muse-score-maps 1\nmap\npredictor login-v1\ntenant *\nreference uniform\nknots {n}\n")
    for i in range(1, n + 1):
        f.write(f"{i / (n + 1)!r} {(i - 1) / (n - 1)!r}\n")
    f.write("end\n")
EOF
cat >"$work/big.toml" <<EOF
generation = 2
[models.login-lr]
file = "$PWD/examples/generation/models/login-logistic.json"
[predictors.login-v1]
models = ["login-lr"]
[[maps]]
file = "big.map"
[intents.account-login]
id = 2
features = ["f_num_0", "f_num_1", "f_num_2", "f_num_3", "f_num_4"]
[[routes]]
tenant = "bench"
intent = "account-login"
predictor = "login-v1"
[canaries]
per_route = 1
EOF
swift build -c release --product musectl >/dev/null
.build/release/musectl snapshot build "$work/big.toml" -o "$work/big.snapshot" >/dev/null
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
printf '| mused | swap s | status during the swap: n, median ms, max ms | scrape: n, median ms, max ms |\n|---|---:|---|---|\n'
for bin in "$@"; do
    dir="$work/run-$(basename "$(dirname "$(dirname "$bin")")")-$RANDOM"
    port=$((20000 + RANDOM % 20000))
    taskset -c 1 "$bin/mused" --runtime-dir "$dir" --state-dir "$dir.state" --tenant bench::2:64 \
        --metrics-address "127.0.0.1:$port" >"$work/log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do grep -q event=serving "$work/log" 2>/dev/null && break; sleep 0.05; done
    start=$(date +%s%N)
    "$bin/musectl" swap "$work/big.snapshot" --allow-schema-change --runtime-dir "$dir" >"$work/swap.out" 2>&1 &
    swap=$!
    sleep 0.2
    statuses=(); scrapes=()
    while kill -0 $swap 2>/dev/null; do
        t=$(date +%s%N); "$bin/musectl" status --runtime-dir "$dir" >/dev/null 2>&1 || true; statuses+=("$(ms "$t")")
        t=$(date +%s%N); curl -s "http://127.0.0.1:$port/metrics" >/dev/null || true; scrapes+=("$(ms "$t")")
    done
    wait $swap || { cat "$work/swap.out"; }
    took=$(awk -v ms="$(ms "$start")" 'BEGIN { printf "%.2f", ms / 1000 }')
    summary() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%d, %d, %d", NR, a[int((NR + 1) / 2)], a[NR]; else printf "0, -, -" }'; }
    printf '| %s | %s | %s | %s |\n' "$bin" "$took" "$(summary "${statuses[@]}")" "$(summary "${scrapes[@]}")"
    kill $pid; wait $pid 2>/dev/null || true
    rm -rf "$dir" "$dir.state"
done
