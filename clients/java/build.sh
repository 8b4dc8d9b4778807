#!/usr/bin/env bash
# Builds the Java binding (clients/java/src, java.lang.foreign over
# libmuse.so) into OUT/muse.jar (default out/java) with a javac of JDK 22 or
# newer (see jdk.sh: $JAVA_HOME, else the newest /usr/lib/jvm/*). Prints the
# jar's path. Run programs with
#   java --enable-native-access=ALL-UNNAMED -Dmuse.library=.../libmuse.so.1 -cp OUT/muse.jar ...
# (tools/build-libmuse.sh builds libmuse.so.1; without -Dmuse.library the
# dynamic loader's search path is used).
# Usage: clients/java/build.sh [OUT]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/jdk.sh"
muse_find_jdk
out="${1:-$here/../../out/java}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/classes"
"$JDK_HOME/bin/javac" --release 22 -Xlint:all,-restricted -Werror -d "$out/classes" $(find "$here/src" -name '*.java' | sort)
"$JDK_HOME/bin/jar" --create --file "$out/muse.jar" -C "$out/classes" .
echo "$out/muse.jar"
