#!/usr/bin/env bash
# Coverage-guided fuzzing of the model importers, the map parser and the
# snapshot loader with libFuzzer (the Swift toolchain's), under
# AddressSanitizer.
#
#   tools/fuzz/run.sh TARGET [SECONDS]     TARGET: lightgbm xgboost logistic score-maps snapshot
#
# Seeds from Tests/MuseScoringTests/Fixtures/fuzz-corpus/TARGET (read only);
# for `snapshot`, the containers of Tests/MuseSnapshotTests/Fixtures/snapshot-corpus
# (decoded with lz4 into .build-fuzz/seeds/snapshot: the fuzzer reads
# containers and recomputes their hashes, see tools/fuzz/SnapshotFuzzer.swift).
# Inputs libFuzzer finds interesting go to .build-fuzz/corpus/TARGET, a crash
# to .build-fuzz/crash-*. Add a minimised crash to the committed corpus as
# regression-WHAT and fix the importer or the loader.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: tools/fuzz/run.sh lightgbm|xgboost|logistic|score-maps|snapshot [seconds]}
seconds=${2:-60}
out=.build-fuzz
mkdir -p "$out/corpus/$target"
flags=(-Onone -g -parse-as-library -sanitize=fuzzer,address)

if [[ $target == snapshot ]]; then
    fuzzer=$out/snapshot-fuzzer
    if [[ ! -x $fuzzer || -n $(find Sources/MuseScoring Sources/MuseSnapshot Sources/CURing tools/fuzz -newer "$fuzzer" -type f) ]]; then
        echo "== building $fuzzer"
        lib=$out/snapshot-lib
        mkdir -p "$lib"
        # MuseScoring as its own module, as MuseSnapshot imports it; CURing
        # (C) with a module map, as SwiftPM would make one.
        swiftc "${flags[@]}" -emit-library -static -emit-module -module-name MuseScoring \
            -emit-module-path "$lib/MuseScoring.swiftmodule" $(find Sources/MuseScoring -name '*.swift') -o "$lib/libMuseScoring.a"
        clang -c -g -fsanitize=fuzzer-no-link,address -I Sources/CURing/include Sources/CURing/muse_uring.c -o "$lib/muse_uring.o"
        printf 'module CURing {\n    header "%s/Sources/CURing/include/muse_uring.h"\n    export *\n}\n' "$PWD" > "$lib/module.modulemap"
        swiftc "${flags[@]}" -module-name MuseSnapshotFuzz -I "$lib" \
            -Xcc -fmodule-map-file=Sources/CLZ4/module.modulemap -Xcc -fmodule-map-file="$lib/module.modulemap" \
            $(find Sources/MuseSnapshot -name '*.swift') tools/fuzz/SnapshotFuzzer.swift \
            "$lib/libMuseScoring.a" "$lib/muse_uring.o" -luring -llz4 -o "$fuzzer"
    fi
    seeds=$out/seeds/snapshot
    mkdir -p "$seeds"
    for f in Tests/MuseSnapshotTests/Fixtures/snapshot-corpus/*.muse; do
        lz4 -d -q -f "$f" "$seeds/$(basename "$f" .muse).container"
    done
    # Containers of a few hundred kB: libFuzzer's default 4 kB cap would cut every seed.
    "$fuzzer" -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -artifact_prefix="$out/" "$out/corpus/$target" "$seeds"
    exit
fi

if [[ ! -x $out/importer-fuzzer || -n $(find Sources/MuseScoring tools/fuzz -newer "$out/importer-fuzzer" -name '*.swift') ]]; then
    echo "== building $out/importer-fuzzer"
    swiftc "${flags[@]}" -module-name MuseScoringFuzz \
        $(find Sources/MuseScoring -name '*.swift') tools/fuzz/ImporterFuzzer.swift -o "$out/importer-fuzzer"
fi
MUSE_FUZZ_TARGET=$target "$out/importer-fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -artifact_prefix="$out/" "$out/corpus/$target" "Tests/MuseScoringTests/Fixtures/fuzz-corpus/$target"
