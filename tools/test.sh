#!/usr/bin/env bash
# Runs every test: the unit and end-to-end suites, end-to-end tests against
# mused built with AddressSanitizer and with ThreadSanitizer, and the
# shared-memory ring tests under ThreadSanitizer. Sets up the machine first,
# so a fresh clone works.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh

# `swift test --filter` exits 0 when nothing matches, so a renamed test would
# silently drop out of a stage: every filtered stage states how many tests it
# must run, and fails on any other count.
run_exactly() {
    local expected=$1; shift
    local log
    log=$(mktemp)
    swift test "$@" 2>&1 | tee "$log"
    local ran
    ran=$(grep -oE 'Test run with [0-9]+ tests?' "$log" | tail -1 | grep -oE '[0-9]+' || true)
    rm -f "$log"
    if [ "${ran:-0}" -ne "$expected" ]; then
        echo "error: expected this stage to run $expected tests, it ran ${ran:-0}" >&2
        exit 1
    fi
}

echo "== build and test (debug)"
swift build --build-tests
swift test --skip-build --skip EndToEndTests
# On their own, so no other suite competes for the two cores mused and its
# clients run on.
run_exactly 50 --skip-build --filter EndToEndTests

echo "== Python client (clients/python) against a real mused"
# A venv under out/ with what the package and its tests need, from PyPI.
[ -x out/venv/bin/python ] || python3 -m venv out/venv
out/venv/bin/pip install -q --disable-pip-version-check numpy cffi pytest setuptools wheel
out/venv/bin/pip install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./clients/python
# A skipped test (no mused found) would pass quietly: all 12 must pass.
python_log=$(mktemp)
MUSE_MUSED="$PWD/.build/debug/mused" out/venv/bin/pytest -q clients/python/tests | tee "$python_log"
grep -qE '^12 passed in ' "$python_log" || { echo "error: expected 12 Python tests to pass, none skipped" >&2; exit 1; }
rm -f "$python_log"

echo "== Java client (clients/java) against a real mused"
MUSE_MUSED="$PWD/.build/debug/mused" clients/java/test.sh

echo "== end-to-end tests against mused built with AddressSanitizer"
swift build --sanitize=address --scratch-path .build-asan --product mused
# The parameterised tests run under the default idle policy only here (each
# counts once whatever its arguments); the debug stage above runs all three.
MUSE_IDLE_POLICIES=adaptive MUSE_MUSED="$PWD/.build-asan/debug/mused" run_exactly 4 --skip-build \
    --filter 'aHostileClient|aClientTruncating|aRestartedDaemonAnswers|restartsAgainstAFlickering'

echo "== end-to-end tests against mused built with ThreadSanitizer"
# halt_on_error: a race kills mused, which the tests see.
swift build --sanitize=thread --scratch-path .build-tsan --product mused
TSAN_OPTIONS="halt_on_error=1" MUSE_IDLE_POLICIES=adaptive MUSE_MUSED="$PWD/.build-tsan/debug/mused" run_exactly 7 --skip-build \
    --filter 'everyEventIsAnsweredOnce|aHostileClient|aSecondDaemonOnTheSameRuntimeDirectory|reloadAddsAndRemovesTenants|sigtermAnswers|aScrapeCountsWhatTwoTenantsSent|aTenantOverItsRateLimit'

echo "== shared-memory rings, generation publication and the snapshot decoder's checksum thread under ThreadSanitizer"
run_exactly 64 --sanitize=thread --scratch-path .build-tsan --filter 'MuseIPCTests|MuseServerTests|FrameTests'

echo "all tests passed"
