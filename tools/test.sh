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

echo "== hostile client against mused built with AddressSanitizer"
swift build --sanitize=address --scratch-path .build-asan --product mused
MUSE_MUSED="$PWD/.build-asan/debug/mused" swift test --skip-build \
    --filter 'aHostileClient|aClientTruncating|aRestartedDaemonAnswers'

echo "== shared-memory rings under ThreadSanitizer"
swift test --sanitize=thread --scratch-path .build-tsan --filter MuseIPCTests

echo "== snapshot decoder's checksum thread under ThreadSanitizer"
swift test --sanitize=thread --scratch-path .build-tsan --skip-build --filter FrameTests

echo "all tests passed"
