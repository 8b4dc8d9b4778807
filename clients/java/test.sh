#!/usr/bin/env bash
# The Java binding's tests against a real mused: builds libmuse.so
# (tools/build-libmuse.sh) and the module jar (clients/java/build.sh) into
# out/java-test, checks that the jar's release and the library's
# muse_version() are muse.h's, starts mused in a temporary runtime
# directory, runs each plain-main test program (tests/dev/muse/tests) with
# the binding as the module dev.muse on the module path and libmuse named by
# MUSE_LIBRARY, stops mused. Fails unless every program exits 0, exactly
# EXPECTED checks printed PASS (so a check that stopped running fails the run
# as surely as one that failed) and no JVM printed a WARNING (native access
# must be enabled, not merely tolerated).
# mused: MUSE_MUSED, else this repository's .build/debug/mused.
# Usage: clients/java/test.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
expected=68
mused="${MUSE_MUSED:-$repo/.build/debug/mused}"
[ -x "$mused" ] || { echo "no mused at $mused: run \`swift build\` first or set MUSE_MUSED" >&2; exit 1; }
. "$here/jdk.sh"
muse_find_jdk
out="$repo/out/java-test"
rm -rf "$out"
mkdir -p "$out"
"$repo/tools/build-libmuse.sh" "$out/libmuse" >/dev/null
jar="$("$here/build.sh" "$out")"
library="$out/libmuse/lib/libmuse.so.1"
release=$(sed -nE 's/^#define MUSE_VERSION_STRING "([0-9.]+)"/\1/p' "$repo/Sources/CMuse/include/muse.h")

# One release: the jar's and the library's, as `java -jar` reports them.
versions="$(MUSE_LIBRARY="$library" "$JDK_HOME/bin/java" -jar "$jar" 2>&1)"
echo "$versions"
if [ "$versions" != "$(printf 'muse-client %s\nlibmuse %s from %s (MUSE_LIBRARY)' "$release" "$release" "$library")" ]; then
    echo "error: the jar and libmuse must both be release $release (muse.h)" >&2
    exit 1
fi

"$JDK_HOME/bin/javac" --release 22 -Xlint:all,-restricted -Werror --module-path "$jar" --add-modules dev.muse \
    -d "$out/tests" $(find "$here/tests" -name '*.java' | sort)

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

# ALL-UNNAMED for the tests' own native calls (Expected: glibc's exp).
java=("$JDK_HOME/bin/java" --enable-native-access=dev.muse,ALL-UNNAMED --module-path "$jar" --add-modules dev.muse
      -cp "$out/tests")
export MUSE_LIBRARY="$library"
failed=0
run() {
    echo "-- $1"
    "${java[@]}" "dev.muse.tests.$@" 2> >(tee -a "$out/stderr.txt" >&2) | tee -a "$out/results.txt" || failed=1
}
: >"$out/results.txt"
: >"$out/stderr.txt"
run VersionTest "$release" "$jar" "$library"
run CompletionLayoutTest "$repo/Sources/CMuse/include"
run ByNameTest "$dir"
run ErrorsTest "$dir"
run ExactlyOnceTest "$dir"
run HotPathTest "$dir"
passed="$(grep -c '^PASS ' "$out/results.txt" || true)"
echo "java client: $passed checks passed (expected $expected)"
if grep -q WARNING "$out/results.txt" "$out/stderr.txt"; then
    echo "error: a JVM printed a WARNING (above)" >&2
    failed=1
fi
if [ "$failed" -ne 0 ] || [ "$passed" -ne "$expected" ] || grep -q '^FAIL ' "$out/results.txt"; then
    echo "java client tests FAILED" >&2
    exit 1
fi
