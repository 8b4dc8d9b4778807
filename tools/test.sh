#!/usr/bin/env bash
# Runs every test: the unit and end-to-end suites, end-to-end tests against
# mused built with AddressSanitizer and with ThreadSanitizer, and the
# shared-memory ring tests under ThreadSanitizer. Sets up the machine first,
# so a fresh clone works.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh

# Logs of the stages; removed however the script ends.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# `swift test --filter` exits 0 when nothing matches, so a renamed test would
# silently drop out of a stage: each filtered stage counts the tests its
# filter selects in `swift test list` (at least one), and fails unless the run
# executed exactly that many.
#   run_filtered FILTER [swift test options: --sanitize, --scratch-path...]
run_filtered() {
    local filter=$1; shift
    local expected
    expected=$(swift test list --skip-build "$@" 2>/dev/null | grep -cE -- "$filter" || true)
    if [ "${expected:-0}" -lt 1 ]; then
        echo "error: the filter '$filter' selects no test" >&2
        exit 1
    fi
    local log="$scratch/stage.log"
    swift test --skip-build "$@" --filter "$filter" 2>&1 | tee "$log"
    local ran
    ran=$(grep -oE 'Test run with [0-9]+ tests?' "$log" | tail -1 | grep -oE '[0-9]+' || true)
    if [ "${ran:-0}" -ne "$expected" ]; then
        echo "error: the filter '$filter' selects $expected tests, the run executed ${ran:-0}" >&2
        exit 1
    fi
}

echo "== build and test (debug)"
swift build --build-tests
swift test --skip-build --skip EndToEndTests
# On their own, so no other suite competes for the two cores mused and its
# clients run on.
run_filtered EndToEndTests

echo "== Python client (clients/python) against a real mused"
# A venv under out/ with what the package and its tests need, from PyPI.
[ -x out/venv/bin/python ] || python3 -m venv out/venv
out/venv/bin/pip install -q --disable-pip-version-check numpy cffi pytest setuptools wheel
out/venv/bin/pip install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./clients/python
# A skipped test (no mused found) would pass quietly: every test collected must pass.
python_expected=$(out/venv/bin/pytest -q --collect-only clients/python/tests | grep -c '::' || true)
MUSE_MUSED="$PWD/.build/debug/mused" out/venv/bin/pytest -q clients/python/tests | tee "$scratch/python.log"
grep -qE "^$python_expected passed in " "$scratch/python.log" \
    || { echo "error: expected all $python_expected Python tests to pass, none skipped" >&2; exit 1; }

echo "== Java client (clients/java) against a real mused"
MUSE_MUSED="$PWD/.build/debug/mused" clients/java/test.sh

echo "== end-to-end tests against mused built with AddressSanitizer"
swift build --sanitize=address --scratch-path .build-asan --product mused
# The parameterised tests run under the default idle policy only here (each
# counts once whatever its arguments); the debug stage above runs all three.
MUSE_IDLE_POLICIES=adaptive MUSE_MUSED="$PWD/.build-asan/debug/mused" run_filtered \
    'aHostileClient|aClientTruncating|aRestartedDaemonAnswers|restartsAgainstAFlickering|nonFilesEndlessFilesAndBombs'

echo "== end-to-end tests against mused built with ThreadSanitizer"
# halt_on_error: a race kills mused, which the tests see.
swift build --sanitize=thread --scratch-path .build-tsan --product mused
TSAN_OPTIONS="halt_on_error=1" MUSE_IDLE_POLICIES=adaptive MUSE_MUSED="$PWD/.build-tsan/debug/mused" run_filtered \
    'everyEventIsAnsweredOnce|aHostileClient|aSecondDaemonOnTheSameRuntimeDirectory|reloadAddsAndRemovesTenants|sigtermAnswers|aScrapeCountsWhatTwoTenantsSent|aTenantOverItsRateLimit'

echo "== shared-memory rings, generation publication and the snapshot decoder's checksum thread under ThreadSanitizer"
swift build --build-tests --sanitize=thread --scratch-path .build-tsan
run_filtered 'MuseIPCTests|MuseServerTests|FrameTests' --sanitize=thread --scratch-path .build-tsan

echo "all tests passed"
