#!/usr/bin/env bash
# Runs every test: the unit and end-to-end suites, end-to-end tests against
# mused built with AddressSanitizer and with ThreadSanitizer, and the
# shared-memory ring tests under ThreadSanitizer. Sets up the machine first,
# so a fresh clone works.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh --test

# Logs of the stages; removed however the script ends.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# bounded SECONDS CMD...: runs CMD in a process group of its own; if it is
# still running after SECONDS, prints the process tree (what was stuck, and in
# which kernel wait) and kills the group, so a hang fails its stage with a
# report instead of stalling the run.
bounded() {
    local limit=$1; shift
    setsid "$@" &
    local pid=$!
    (
        for ((waited = 0; waited < limit; waited++)); do
            sleep 1
            kill -0 "$pid" 2>/dev/null || exit 0
        done
        echo "error: still running after $limit s, killed: $*" >&2
        ps -eo pid,ppid,etimes,stat,wchan:24,args --forest >&2
        kill -KILL -- "-$pid" 2>/dev/null
    ) &
    local watchdog=$! status=0
    wait "$pid" || status=$?
    wait "$watchdog" 2>/dev/null || true
    return "$status"
}

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
    bounded 1200 swift test --skip-build "$@" --filter "$filter" 2>&1 | tee "$log"
    local ran
    ran=$(grep -oE 'Test run with [0-9]+ tests?' "$log" | tail -1 | grep -oE '[0-9]+' || true)
    if [ "${ran:-0}" -ne "$expected" ]; then
        echo "error: the filter '$filter' selects $expected tests, the run executed ${ran:-0}" >&2
        exit 1
    fi
}

echo "== build and test (debug)"
swift build --build-tests
bounded 1200 swift test --skip-build --skip EndToEndTests
# On their own, so no other suite competes for the two cores mused and its
# clients run on.
run_filtered EndToEndTests

echo "== Python client (clients/python) against a real mused"
# Built as a user gets it: an sdist, then a wheel from that sdist (python -m
# build, its build requirements from PyPI), each installed into a fresh venv
# under out/python, outside the source tree; the suite runs against each
# install from there (conftest refuses any other muse). The builder's venv is out/venv.
python_release=$(sed -nE 's/^#define MUSE_VERSION_STRING "([0-9.]+)"/\1/p' Sources/CMuse/include/muse.h)
python_tests="$PWD/clients/python/tests"
python_daemons="$PWD/.build/debug"
[ -x out/venv/bin/python ] || python3 -m venv out/venv
out/venv/bin/pip install -q --disable-pip-version-check build
rm -rf out/python
out/venv/bin/python -m build --outdir out/python/dist clients/python >"$scratch/python-build.log" 2>&1 \
    || { cat "$scratch/python-build.log"; echo "error: python -m build failed" >&2; exit 1; }
for python_kind in sdist wheel; do
    case $python_kind in
        sdist) python_package="$PWD/out/python/dist/muse_scorer-$python_release.tar.gz" ;;
        wheel) python_package=$(ls "$PWD"/out/python/dist/muse_scorer-"$python_release"-*.whl) ;;
    esac
    [ -f "$python_package" ] || { echo "error: no $python_kind of muse-scorer $python_release" >&2; exit 1; }
    python_venv="$PWD/out/python/venv-$python_kind"
    python3 -m venv "$python_venv"
    "$python_venv/bin/pip" install -q --disable-pip-version-check "$python_package" pytest
    (
        cd out/python
        export MUSE_TEST_INSTALLED_IN="$python_venv" MUSE_MUSED="$python_daemons/mused" \
               MUSE_MUSECTL="$python_daemons/musectl" PYTHONDONTWRITEBYTECODE=1
        echo "-- muse-scorer from its $python_kind: $("$python_venv/bin/python" -c \
            'import muse; print(muse.__version__, "(library", muse.library_version() + ")", muse.__file__)')"
        # A skipped test (no mused found) would pass quietly: every test collected must pass.
        expected=$("$python_venv/bin/pytest" -q -p no:cacheprovider --collect-only "$python_tests" | grep -c '::' || true)
        bounded 600 "$python_venv/bin/pytest" -q -p no:cacheprovider "$python_tests" | tee "$scratch/python.log"
        grep -qE "^$expected passed in " "$scratch/python.log" \
            || { echo "error: expected all $expected Python tests to pass against the $python_kind, none skipped" >&2; exit 1; }
    )
done

echo "== Java client (clients/java) against a real mused"
MUSE_MUSED="$PWD/.build/debug/mused" bounded 900 clients/java/test.sh
# The shipped pom builds the same release, offline from Debian's Maven repository.
clients/java/mvn-offline.sh -q package
(
    . clients/java/jdk.sh
    muse_find_jdk
    release=$(sed -nE 's/^#define MUSE_VERSION_STRING "([0-9.]+)"/\1/p' Sources/CMuse/include/muse.h)
    jar=clients/java/target/muse-client-$release.jar
    [ -f "${jar%.jar}-javadoc.jar" ] || { echo "error: Maven made no javadoc jar" >&2; exit 1; }
    versions=$(MUSE_LIBRARY="$PWD/out/java-test/libmuse/lib/libmuse.so.1" "$JDK_HOME/bin/java" -jar "$jar" 2>&1)
    echo "-- $jar:"
    echo "$versions"
    [ "$(head -n 1 <<<"$versions")" = "muse-client $release" ] && ! grep -q WARNING <<<"$versions" \
        || { echo "error: the Maven-built jar is not release $release" >&2; exit 1; }
)

echo "== C and C++ clients: the CMake package"
tools/ci/cmake-check.sh

echo "== end-to-end tests against mused built with AddressSanitizer"
swift build --sanitize=address --scratch-path .build-asan --product mused
# The parameterised tests run under the default idle policy only here (each
# counts once whatever its arguments); the debug stage above runs all three.
# A leak fails mused's exit, which the tests see; tools/ci/lsan-suppressions.txt
# names the one leak that is a library's.
LSAN_OPTIONS="suppressions=$PWD/tools/ci/lsan-suppressions.txt" MUSE_IDLE_POLICIES=adaptive \
    MUSE_MUSED="$PWD/.build-asan/debug/mused" run_filtered \
    'aHostileClient|aClientTruncating|aRestartedDaemonAnswers|restartsAgainstAFlickering|nonFilesEndlessFilesAndBombs|aShadowIsPromoted|aCandidateJoins|exportCountsEveryEvent'

echo "== end-to-end tests against mused built with ThreadSanitizer"
# halt_on_error: a race kills mused, which the tests see.
swift build --sanitize=thread --scratch-path .build-tsan --product mused
TSAN_OPTIONS="halt_on_error=1" MUSE_IDLE_POLICIES=adaptive MUSE_MUSED="$PWD/.build-tsan/debug/mused" run_filtered \
    'everyEventIsAnsweredOnce|aHostileClient|aSecondDaemonOnTheSameRuntimeDirectory|reloadAddsAndRemovesTenants|sigtermAnswers|aScrapeCountsWhatTwoTenantsSent|aTenantOverItsRateLimit|healthAndReadinessFollowTheWorkersAndTheTenants|aShadowIsPromoted|aCandidateJoins|exportCountsEveryEvent'

echo "== shared-memory rings, generation publication and the snapshot decoder's checksum thread under ThreadSanitizer"
swift build --build-tests --sanitize=thread --scratch-path .build-tsan
run_filtered 'MuseIPCTests|MuseServerTests|FrameTests' --sanitize=thread --scratch-path .build-tsan

echo "== deploy/ and the units for real: manifests, alerting rules, dashboard; mused under systemd; a fleet rollout"
# Against the release build tools/install installs. The systemd and fleet
# stages boot Debian 12 containers with systemd as PID 1, from a root
# filesystem made once with debootstrap and cached under out/ci.
swift build -c release --product mused
swift build -c release --product musectl
release_bin=$(swift build -c release --show-bin-path)
bounded 900 tools/ci/deploy-check.sh --bin-dir "$release_bin"
bounded 1800 tools/ci/systemd-stage.sh --bin-dir "$release_bin"
bounded 1200 tools/ci/fleet-stage.sh --bin-dir "$release_bin"

echo "all tests passed"
