#!/usr/bin/env bash
# Runs every test: the unit and end-to-end suites, the hostile-client test
# against an AddressSanitizer build of mused, and the shared-memory ring tests
# under ThreadSanitizer. Sets up the machine first, so a fresh clone works.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh

echo "== build and test (debug)"
swift build --build-tests
swift test --skip-build --skip EndToEndTests
# On their own, so no other suite competes for the two cores mused and its
# clients run on.
swift test --skip-build --filter EndToEndTests

echo "== Python client (clients/python) against a real mused"
# A venv under out/ with what the package and its tests need, from PyPI.
[ -x out/venv/bin/python ] || python3 -m venv out/venv
out/venv/bin/pip install -q --disable-pip-version-check numpy cffi pytest setuptools wheel
out/venv/bin/pip install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./clients/python
MUSE_MUSED="$PWD/.build/debug/mused" out/venv/bin/pytest -q clients/python/tests

echo "== hostile client against mused built with AddressSanitizer"
swift build --sanitize=address --scratch-path .build-asan --product mused
MUSE_MUSED="$PWD/.build-asan/debug/mused" swift test --skip-build \
    --filter 'aHostileClient|aClientTruncating|aRestartedDaemonAnswers'

echo "== shared-memory rings under ThreadSanitizer"
swift test --sanitize=thread --scratch-path .build-tsan --filter MuseIPCTests

echo "all tests passed"
