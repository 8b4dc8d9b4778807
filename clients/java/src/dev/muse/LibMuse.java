package dev.muse;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The downcall handles into libmuse.so, written by hand from muse.h (no
 * jextract): one static final handle per function, so the JIT inlines the
 * call site. C types map as muse_status/int/uint32_t to JAVA_INT,
 * size_t/uint64_t/int64_t to JAVA_LONG (LP64 Linux only, as muse.h), pointers
 * to ADDRESS.
 *
 * <p>The library, first found of: the path in {@code -Dmuse.library}; the
 * path in the environment variable MUSE_LIBRARY; libmuse.so.1 in a directory
 * of {@code java.library.path}; libmuse.so.1 as the dynamic loader finds it
 * (LD_LIBRARY_PATH, ld.so.cache: what tools/install.sh plus ldconfig gives).
 * A path given explicitly that does not load is an error, not a reason to
 * look further. It must be 1.2 or newer: muse_wait_idle came in symbol
 * version MUSE_1.2 (muse_version, 1.3, is optional).
 */
final class LibMuse {
    private LibMuse() {}

    static final String LIBRARY_PROPERTY = "muse.library";
    static final String LIBRARY_VARIABLE = "MUSE_LIBRARY";
    static final String SONAME = "libmuse.so.1";

    /** muse_intent_info: what muse_lookup_intent and muse_intent_features fill. */
    static final StructLayout INTENT_INFO = MemoryLayout.structLayout(
            JAVA_INT.withName("id"),
            JAVA_INT.withName("feature_count"),
            JAVA_LONG.withName("schema_hash")).withName("muse_intent_info");
    static final long INFO_ID = INTENT_INFO.byteOffset(MemoryLayout.PathElement.groupElement("id"));
    static final long INFO_FEATURE_COUNT = INTENT_INFO.byteOffset(MemoryLayout.PathElement.groupElement("feature_count"));
    static final long INFO_SCHEMA_HASH = INTENT_INFO.byteOffset(MemoryLayout.PathElement.groupElement("schema_hash"));

    /** Errno as saved right after muse_open_tenant and muse_claim (MUSE_E_SYSTEM). */
    static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final Linker LINKER = Linker.nativeLinker();
    private record Loaded(SymbolLookup lookup, String location) {}
    private static final Loaded LOADED = load();
    private static final SymbolLookup LIBRARY = LOADED.lookup;
    /** Which library was loaded and how it was found, e.g. "/usr/lib/libmuse.so.1 (MUSE_LIBRARY)". */
    static final String LOCATION = LOADED.location;

    static final MethodHandle SIZEOF_CLIENT = function("muse_sizeof_client", FunctionDescriptor.of(JAVA_LONG));
    static final MethodHandle SIZEOF_CHANNEL = function("muse_sizeof_channel", FunctionDescriptor.of(JAVA_LONG));
    static final MethodHandle STRERROR = function("muse_strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    /** muse_version, or empty for a libmuse older than 1.3. */
    static final Optional<MethodHandle> VERSION = LIBRARY.find("muse_version")
            .map(address -> LINKER.downcallHandle(address, FunctionDescriptor.of(ADDRESS)));
    /** (MemorySegment callState, client, runtimeDir, tenant) -> status */
    static final MethodHandle OPEN_TENANT = function("muse_open_tenant",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), Linker.Option.captureCallState("errno"));
    static final MethodHandle CLOSE = function("muse_close", FunctionDescriptor.ofVoid(ADDRESS));
    /** (MemorySegment callState, client, channel) -> status */
    static final MethodHandle CLAIM = function("muse_claim",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), Linker.Option.captureCallState("errno"));
    static final MethodHandle RELEASE = function("muse_release", FunctionDescriptor.ofVoid(ADDRESS));
    static final MethodHandle LOOKUP_INTENT = function("muse_lookup_intent",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    /** (client, intent, names, capacity, length*, info*) -> status */
    static final MethodHandle INTENT_FEATURES = function("muse_intent_features",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
    /** (client, info*, const char *const *names, count) -> status */
    static final MethodHandle CHECK_SCHEMA = function("muse_check_schema",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    static final MethodHandle DAEMON_ALIVE = function("muse_daemon_alive",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    static final MethodHandle INCARNATION = function("muse_incarnation", FunctionDescriptor.of(JAVA_LONG, ADDRESS));

    /*
     * The hot path. muse_submit and muse_poll never block and never call back
     * into Java (a futex wake at most), so they are critical downcalls: no
     * thread-state transition, which is most of an ordinary downcall's cost.
     * Heap access stays off: features are staged in the channel's native
     * buffer, so the call never pins a Java array.
     */
    /** (channel, tag, intent id, features, feature count) -> status */
    static final MethodHandle SUBMIT = function("muse_submit",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT),
            Linker.Option.critical(false));
    /** (channel) -> status; at most a futex wake, so critical too. */
    static final MethodHandle PREPARE = function("muse_prepare", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            Linker.Option.critical(false));
    /** (channel, out, max) -> count */
    static final MethodHandle POLL = function("muse_poll",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG), Linker.Option.critical(false));
    /**
     * (channel, out, max, count*, timeout ns, idle policy) -> status. Not
     * critical: it may sleep on a futex for as long as the timeout, and a
     * critical call would hold up the garbage collector all that time.
     */
    static final MethodHandle WAIT_IDLE = function("muse_wait_idle",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT));

    private static Loaded load() {
        String property = System.getProperty(LIBRARY_PROPERTY);
        if (property != null && !property.isEmpty()) return open(property, "-D" + LIBRARY_PROPERTY);
        String variable = System.getenv(LIBRARY_VARIABLE);
        if (variable != null && !variable.isEmpty()) return open(variable, LIBRARY_VARIABLE);
        for (String directory : System.getProperty("java.library.path", "").split(java.io.File.pathSeparator)) {
            if (directory.isEmpty()) continue;
            Path candidate = Path.of(directory, SONAME);
            if (Files.isRegularFile(candidate)) return open(candidate.toString(), "java.library.path");
        }
        return open(SONAME, "the dynamic loader's search path");
    }

    private static Loaded open(String library, String how) {
        try {
            return new Loaded(SymbolLookup.libraryLookup(library, Arena.global()), library + " (" + how + ")");
        } catch (IllegalArgumentException e) {
            throw new UnsatisfiedLinkError("cannot load " + library + " (" + how + "): " + e.getMessage()
                    + ". Name libmuse.so.1 with -D" + LIBRARY_PROPERTY + "=PATH or " + LIBRARY_VARIABLE
                    + "=PATH, put its directory in java.library.path, or install it (tools/install.sh, then "
                    + "ldconfig); tools/build-libmuse.sh builds it");
        }
    }

    private static MethodHandle function(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment address = LIBRARY.find(name).orElseThrow(() -> new UnsatisfiedLinkError(
                name + " is not exported by " + LOCATION + ": libmuse must be version 1.2 or newer"));
        return LINKER.downcallHandle(address, descriptor, options);
    }

    /** muse_strerror's text for a status code. */
    static String strerror(int status) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(status);
            return text.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** muse_version's text, or empty for a libmuse older than 1.3. */
    static Optional<String> version() {
        return VERSION.map(function -> {
            try {
                MemorySegment text = (MemorySegment) function.invokeExact();
                return text.reinterpret(Long.MAX_VALUE).getString(0);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        });
    }

    /** What a failed invokeExact threw, as an unchecked exception. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException e) return e;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
