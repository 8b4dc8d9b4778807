#!/usr/bin/env bash
# Installs the Muse client library: libmuse.so.1 (with its soname and
# versioned symbols), muse.h, muse.pc and the CMake package under PREFIX
# (default /usr/local), so that `pkg-config --cflags --libs muse` and CMake's
# `find_package(muse)` work. Run as root for /usr/local.
# tools/install (the service) calls it too. DESTDIR=/tmp/stage stages the
# files under DESTDIR; muse.pc still names PREFIX.
# Usage: tools/install.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-/usr/local}"
destdir="${DESTDIR:-}"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
PREFIX="$prefix" tools/build-libmuse.sh "$build" >/dev/null
lib="$destdir$prefix/lib"
install -d "$lib/pkgconfig" "$lib/cmake/muse" "$destdir$prefix/include"
install -m 0755 "$build"/lib/libmuse.so.1.* "$lib/"
ln -sf "$(basename "$build"/lib/libmuse.so.1.*)" "$lib/libmuse.so.1"
ln -sf libmuse.so.1 "$lib/libmuse.so"
install -m 0644 "$build/include/muse.h" "$destdir$prefix/include/muse.h"
install -m 0644 "$build/lib/pkgconfig/muse.pc" "$lib/pkgconfig/muse.pc"
install -m 0644 "$build"/lib/cmake/muse/*.cmake "$lib/cmake/muse/"
if [ -z "$destdir" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi
echo "installed libmuse into $destdir$prefix (pkg-config: PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --libs muse)"
