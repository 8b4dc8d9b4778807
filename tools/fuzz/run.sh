#!/usr/bin/env bash
# Coverage-guided fuzzing of the model importers and the map parser with
# libFuzzer (the Swift toolchain's), under AddressSanitizer.
#
#   tools/fuzz/run.sh TARGET [SECONDS]     TARGET: lightgbm xgboost logistic score-maps
#
# Seeds from Tests/MuseScoringTests/Fixtures/fuzz-corpus/TARGET (read only);
# inputs libFuzzer finds interesting go to .build-fuzz/corpus/TARGET, a crash
# to .build-fuzz/crash-*. Add a minimised crash to the committed corpus as
# regression-WHAT and fix the importer.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: tools/fuzz/run.sh lightgbm|xgboost|logistic|score-maps [seconds]}
seconds=${2:-60}
out=.build-fuzz
mkdir -p "$out/corpus/$target"
if [[ ! -x $out/importer-fuzzer || -n $(find Sources/MuseScoring tools/fuzz -newer "$out/importer-fuzzer" -name '*.swift') ]]; then
    echo "== building $out/importer-fuzzer"
    swiftc -Onone -g -parse-as-library -sanitize=fuzzer,address -module-name MuseScoringFuzz \
        $(find Sources/MuseScoring -name '*.swift') tools/fuzz/ImporterFuzzer.swift -o "$out/importer-fuzzer"
fi
MUSE_FUZZ_TARGET=$target "$out/importer-fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -artifact_prefix="$out/" "$out/corpus/$target" "Tests/MuseScoringTests/Fixtures/fuzz-corpus/$target"
