# Sourced by build.sh, test.sh and tools/bench/clients.sh: sets JDK_HOME to a
# JDK whose javac is 22 or newer (the Foreign Function & Memory API is final
# since Java 22). $JAVA_HOME wins if it qualifies, else the newest
# /usr/lib/jvm/* that does; fails naming what is needed otherwise.

# The feature release of a javac ("javac 25.0.3" -> 25; "javac 1.8.0" -> 1).
muse_javac_release() {
    "$1/bin/javac" -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p' | head -n 1
}

muse_find_jdk() {
    local candidate release best="" best_release=0
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
        release="$(muse_javac_release "$JAVA_HOME")"
        if [ "${release:-0}" -ge 22 ]; then JDK_HOME="$JAVA_HOME"; return 0; fi
    fi
    for candidate in /usr/lib/jvm/*; do
        [ -x "$candidate/bin/javac" ] || continue
        release="$(muse_javac_release "$candidate")"
        if [ "${release:-0}" -ge 22 ] && [ "$release" -gt "$best_release" ]; then
            best="$candidate"
            best_release="$release"
        fi
    done
    if [ -z "$best" ]; then
        echo "clients/java needs a JDK 22 or newer with javac (java.lang.foreign);" \
             "set JAVA_HOME to one (none found in \$JAVA_HOME or /usr/lib/jvm/*)" >&2
        return 1
    fi
    JDK_HOME="$best"
}
