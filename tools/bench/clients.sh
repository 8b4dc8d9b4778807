#!/usr/bin/env bash
# Client round trips (C, Java, Python) and Python batch throughput through a
# real mused, in one run (BENCHMARKS.md, "Clients"). The client runs on CPU 0,
# mused on CPU 1. Builds mused in release mode, the C benchmark with -O2,
# libmuse.so and the Java binding (clients/java, JDK 22+), and the Python
# package into the venv tools/test.sh uses (out/venv).
# Usage: tools/bench/clients.sh [ROUND_TRIPS] [BATCH_EVENTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
round_trips="${1:-1000000}"
batch_events="${2:-10000000}"
swift build -c release --product mused >/dev/null
mkdir -p out
cc -std=c11 -O2 -I Sources/CMuse/include tools/bench/client_roundtrip.c -o out/client_roundtrip
tools/build-libmuse.sh out/libmuse >/dev/null
jar="$(clients/java/build.sh out/java)"
. clients/java/jdk.sh
muse_find_jdk
[ -x out/venv/bin/python ] || python3 -m venv out/venv
out/venv/bin/pip install -q --disable-pip-version-check numpy cffi pytest setuptools wheel
out/venv/bin/pip install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./clients/python
dir="$(mktemp -d /tmp/muse-bench-XXXXXX)"
taskset -c 1 .build/release/mused --runtime-dir "$dir" --state-dir "$dir.state" --tenant bench::2:1024 >"$dir/mused.log" 2>&1 &
mused=$!
trap 'kill $mused 2>/dev/null; wait $mused 2>/dev/null; rm -rf "$dir" "$dir.state"' EXIT
for _ in $(seq 200); do grep -q event=serving "$dir/mused.log" 2>/dev/null && break; sleep 0.05; done
taskset -c 0 out/client_roundtrip "$dir" bench "$round_trips"
taskset -c 0 "$JDK_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dmuse.library="$PWD/out/libmuse/lib/libmuse.so.1" \
    -cp "$jar" tools/bench/ClientRoundTrip.java "$dir" bench "$round_trips"
taskset -c 0 out/venv/bin/python tools/bench/client_python.py "$dir" bench $((round_trips / 5)) "$batch_events"
