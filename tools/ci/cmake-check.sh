#!/usr/bin/env bash
# The CMake package tools/install.sh installs beside muse.pc: a CMake project
# finds it by version (a later major is refused), links libmuse.so.1 through
# muse::muse, and uses the header alone through muse::header. Exits non-zero
# on the first failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
release=$(sed -nE 's/^#define MUSE_VERSION_STRING "([0-9.]+)"/\1/p' Sources/CMuse/include/muse.h)
tools/install.sh "$work/prefix" >/dev/null
mkdir -p "$work/project"
cat >"$work/project/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(museuser C)
find_package(muse 99 QUIET)
if(muse_FOUND)
    message(FATAL_ERROR "muse 99 was accepted")
endif()
find_package(muse $release REQUIRED)
if(NOT muse_VERSION STREQUAL "$release")
    message(FATAL_ERROR "found muse \${muse_VERSION}")
endif()
add_executable(linked linked.c)
target_link_libraries(linked muse::muse)
add_executable(inline inline.c)
target_link_libraries(inline muse::header)
CMAKE
# The header's functions are static inline; a program that wants the
# library's symbols (as another language's binding does) declares them.
printf '#include <stdio.h>\nconst char *muse_version(void);\nint main(void) { puts(muse_version()); return 0; }\n' >"$work/project/linked.c"
printf '#include "muse.h"\n#include <stdio.h>\nint main(void) { puts(muse_version()); return 0; }\n' >"$work/project/inline.c"
cmake -S "$work/project" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/cmake.log" 2>&1 \
    || { cat "$work/cmake.log"; echo "error: cmake could not configure a project using find_package(muse $release)" >&2; exit 1; }
cmake --build "$work/build" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
for program in linked inline; do
    got=$(LD_LIBRARY_PATH="$work/prefix/lib" "$work/build/$program")
    [ "$got" = "$release" ] || { echo "error: $program printed '$got', expected $release" >&2; exit 1; }
done
readelf -d "$work/build/linked" | grep -q 'libmuse.so.1' || { echo "error: linked does not need libmuse.so.1" >&2; exit 1; }
echo "ok - find_package(muse $release): muse::muse links libmuse.so.1, muse::header builds inline, muse 99 refused"
