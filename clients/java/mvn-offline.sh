#!/usr/bin/env bash
# Builds clients/java with Maven from pom.xml, offline, against Debian's
# packaged Maven repository (/usr/share/maven-repo): installs Maven and the
# plugin packages the pom's plugin versions come from if they are missing,
# then runs `mvn -o` on the JDK jdk.sh finds (22+). Default goal: package,
# which leaves target/muse-client-VERSION.jar, -javadoc.jar (doclint: any
# warning fails) and -sources.jar. Nothing is written to /usr/share/maven-repo.
# Usage: clients/java/mvn-offline.sh [MAVEN ARGUMENTS...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/jdk.sh"
muse_find_jdk

packages=(maven libmaven-clean-plugin-java libmaven-resources-plugin-java libmaven-compiler-plugin-java
          libsurefire-java libmaven-jar-plugin-java libmaven-javadoc-plugin-java libmaven-source-plugin-java
          libmaven-install-plugin-java)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
        || { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
fi

[ $# -gt 0 ] || set -- package
# Maven 3.8's Guava uses sun.misc.Unsafe, which JDK 24+ warns about on every run.
MAVEN_OPTS="${MAVEN_OPTS:-} $("$JDK_HOME/bin/java" --sun-misc-unsafe-memory-access=allow -version >/dev/null 2>&1 \
    && echo --sun-misc-unsafe-memory-access=allow)" \
    JAVA_HOME="$JDK_HOME" mvn -o -B -Dstyle.color=never -f "$here/pom.xml" -Dmaven.repo.local=/usr/share/maven-repo "$@"
