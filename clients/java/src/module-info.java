/**
 * The Java client of the Muse scorer sidecar: a binding over libmuse.so.1
 * with the Foreign Function &amp; Memory API. Start at
 * {@link dev.muse.MuseClient}.
 *
 * <p>The binding calls native code, which the JVM lets a module do only when
 * told: run with {@code --enable-native-access=dev.muse} on the module path,
 * or {@code --enable-native-access=ALL-UNNAMED} on the class path.
 */
module dev.muse {
    exports dev.muse;
}
