#!/usr/bin/env bash
# Builds libmuse.so (muse.h compiled once, exported and versioned) into
# OUT (default out/libmuse):
#   OUT/lib/libmuse.so.VERSION (muse.h's MUSE_VERSION_STRING), libmuse.so.1 -> it, libmuse.so -> libmuse.so.1
#   OUT/include/muse.h
#   OUT/lib/pkgconfig/muse.pc (prefix OUT, or PREFIX if set, for installing)
#   OUT/lib/cmake/muse/museConfig.cmake and its version file (find_package(muse))
# Usage: tools/build-libmuse.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/libmuse}"
mkdir -p "$out/lib/pkgconfig" "$out/lib/cmake/muse" "$out/include"
out="$(cd "$out" && pwd)"
# The release, from muse.h: the one place it is written.
version=$(sed -nE 's/^#define MUSE_VERSION_STRING "([0-9.]+)"/\1/p' Sources/CMuse/include/muse.h)
[ -n "$version" ] || { echo "error: no MUSE_VERSION_STRING in muse.h" >&2; exit 1; }
cc="${CC:-cc}"
"$cc" -std=c11 -O2 -g -fPIC -shared -fvisibility=hidden \
    -Wall -Wextra -Wpedantic -Werror \
    -I Sources/CMuse/include clients/libmuse/libmuse.c \
    -Wl,-soname,libmuse.so.1 -Wl,--version-script=clients/libmuse/libmuse.map -Wl,-z,defs \
    -o "$out/lib/libmuse.so.$version" -lpthread
ln -sf "libmuse.so.$version" "$out/lib/libmuse.so.1"
ln -sf libmuse.so.1 "$out/lib/libmuse.so"
cp Sources/CMuse/include/muse.h "$out/include/muse.h"
sed -e "s|@PREFIX@|${PREFIX:-$out}|" -e "s|@VERSION@|$version|" clients/libmuse/muse.pc.in > "$out/lib/pkgconfig/muse.pc"
# The CMake package finds its files relative to itself: no prefix in it.
cp clients/libmuse/museConfig.cmake.in "$out/lib/cmake/muse/museConfig.cmake"
sed -e "s|@VERSION@|$version|" clients/libmuse/museConfigVersion.cmake.in > "$out/lib/cmake/muse/museConfigVersion.cmake"
echo "$out/lib/libmuse.so.$version"
