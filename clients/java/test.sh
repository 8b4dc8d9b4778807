#!/usr/bin/env bash
# The Java binding's tests against a real mused: builds libmuse.so
# (tools/build-libmuse.sh) and the jar (clients/java/build.sh) into
# out/java-test, starts mused in a temporary runtime directory, runs each
# plain-main test program (tests/dev/muse/tests), stops mused. Fails unless
# every program exits 0 and exactly EXPECTED checks printed PASS, so a check
# that stopped running fails the run as surely as one that failed.
# mused: MUSE_MUSED, else this repository's .build/debug/mused.
# Usage: clients/java/test.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
expected=53
mused="${MUSE_MUSED:-$repo/.build/debug/mused}"
[ -x "$mused" ] || { echo "no mused at $mused: run \`swift build\` first or set MUSE_MUSED" >&2; exit 1; }
. "$here/jdk.sh"
muse_find_jdk
out="$repo/out/java-test"
rm -rf "$out"
mkdir -p "$out"
"$repo/tools/build-libmuse.sh" "$out/libmuse" >/dev/null
jar="$("$here/build.sh" "$out")"
"$JDK_HOME/bin/javac" --release 22 -Xlint:all,-restricted -Werror -cp "$jar" -d "$out/tests" \
    $(find "$here/tests" -name '*.java' | sort)

dir="$(mktemp -d /tmp/muse-java-XXXXXX)"
chmod 755 "$dir"
"$mused" --runtime-dir "$dir" --state-dir "$dir.state" --tenant java::8:64 --tenant solo::1:16 >"$dir/mused.log" 2>&1 &
mused_pid=$!
trap 'kill $mused_pid 2>/dev/null; wait $mused_pid 2>/dev/null; rm -rf "$dir" "$dir.state"' EXIT
for _ in $(seq 400); do
    grep -q event=serving "$dir/mused.log" 2>/dev/null && break
    kill -0 $mused_pid 2>/dev/null || { cat "$dir/mused.log"; echo "mused exited" >&2; exit 1; }
    sleep 0.05
done
grep -q event=serving "$dir/mused.log" || { cat "$dir/mused.log"; echo "mused did not start serving" >&2; exit 1; }

java=("$JDK_HOME/bin/java" --enable-native-access=ALL-UNNAMED "-Dmuse.library=$out/libmuse/lib/libmuse.so.1"
      -cp "$jar:$out/tests")
failed=0
run() {
    echo "-- $1"
    "${java[@]}" "dev.muse.tests.$@" | tee -a "$out/results.txt" || failed=1
}
: >"$out/results.txt"
run CompletionLayoutTest "$repo/Sources/CMuse/include"
run ByNameTest "$dir"
run ErrorsTest "$dir"
run ExactlyOnceTest "$dir"
run HotPathTest "$dir"
passed="$(grep -c '^PASS ' "$out/results.txt" || true)"
echo "java client: $passed checks passed (expected $expected)"
if [ "$failed" -ne 0 ] || [ "$passed" -ne "$expected" ] || grep -q '^FAIL ' "$out/results.txt"; then
    echo "java client tests FAILED" >&2
    exit 1
fi
