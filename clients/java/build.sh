#!/usr/bin/env bash
# Builds the Java binding (clients/java: the module dev.muse, java.lang.foreign
# over libmuse.so) with a JDK 22 or newer (see jdk.sh: $JAVA_HOME, else the
# newest /usr/lib/jvm/*) into OUT (default out/java):
#   muse-client-VERSION.jar           the module jar: module dev.muse@VERSION,
#                                     Implementation-Version, Enable-Native-Access:
#                                     ALL-UNNAMED, main class dev.muse.MuseVersion,
#                                     META-INF/maven/dev.muse/muse-client/pom.xml
#   muse-client-VERSION-javadoc.jar   javadoc, built with -Xdoclint:all -Werror
#   muse-client-VERSION-sources.jar
# VERSION is muse.h's MUSE_VERSION_STRING; pom.xml must carry the same. Prints
# the module jar's path. Run programs with
#   java --enable-native-access=dev.muse --module-path OUT/muse-client-VERSION.jar --add-modules dev.muse ...
#   java --enable-native-access=ALL-UNNAMED -cp OUT/muse-client-VERSION.jar ...
# and libmuse.so.1 named by MUSE_LIBRARY or -Dmuse.library, in java.library.path,
# or on the dynamic loader's path (tools/build-libmuse.sh builds it).
# Usage: clients/java/build.sh [OUT]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$here/jdk.sh"
muse_find_jdk
out="${1:-$repo/out/java}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# The release, from muse.h: the one place it is written.
version=$(sed -nE 's/^#define MUSE_VERSION_STRING "([0-9.]+)"/\1/p' "$repo/Sources/CMuse/include/muse.h")
[ -n "$version" ] || { echo "error: no MUSE_VERSION_STRING in muse.h" >&2; exit 1; }
pom_version=$(sed -nE 's:^  <version>(.*)</version>$:\1:p' "$here/pom.xml" | head -n 1)
if [ "$pom_version" != "$version" ]; then
    echo "error: clients/java/pom.xml has version '$pom_version' but muse.h's release is $version: set the pom's <version>" >&2
    exit 1
fi

name="muse-client-$version"
rm -rf "$out/classes" "$out/javadoc" "$out"/muse-client-*.jar
mkdir -p "$out/classes/dev/muse" "$out/classes/META-INF/maven/dev.muse/muse-client"
"$JDK_HOME/bin/javac" --release 22 -Xlint:all,-restricted -Werror --module-version "$version" \
    -d "$out/classes" $(find "$here/src" -name '*.java' | sort)
sed "s/\${project.version}/$version/" "$here/resources/dev/muse/version.properties" \
    > "$out/classes/dev/muse/version.properties"
# What a Maven-built jar carries, so repositories and tools can read the coordinates.
cp "$here/pom.xml" "$out/classes/META-INF/maven/dev.muse/muse-client/pom.xml"
printf 'groupId=dev.muse\nartifactId=muse-client\nversion=%s\n' "$version" \
    > "$out/classes/META-INF/maven/dev.muse/muse-client/pom.properties"
cat > "$out/MANIFEST.MF" <<MANIFEST
Implementation-Title: Muse client
Implementation-Version: $version
Enable-Native-Access: ALL-UNNAMED
MANIFEST
"$JDK_HOME/bin/jar" --create --file "$out/$name.jar" --manifest "$out/MANIFEST.MF" \
    --main-class dev.muse.MuseVersion --module-version "$version" -C "$out/classes" .

"$JDK_HOME/bin/javadoc" -quiet -Xdoclint:all -Werror -d "$out/javadoc" \
    -doctitle "dev.muse $version" -windowtitle "dev.muse $version" $(find "$here/src" -name '*.java' | sort) >&2
"$JDK_HOME/bin/jar" --create --file "$out/$name-javadoc.jar" -C "$out/javadoc" .
"$JDK_HOME/bin/jar" --create --file "$out/$name-sources.jar" -C "$here/src" .
echo "$out/$name.jar"
