package dev.muse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A tenant's segment, opened: the entry point of the binding (muse.h's
 * muse_client, in native memory this object owns).
 *
 * <pre>{@code
 * try (MuseClient client = MuseClient.open("acme", "/run/muse");
 *      MuseChannel channel = client.channel()) {              // one per thread
 *     Intent intent = client.intent("card-not-present");
 *     double[] x = intent.vector(Map.of("amount", 42.0));     // absent names: NaN (missing)
 *     Completions done = channel.score(intent, x);
 *     if (done.ok(0)) use(done.score(0));
 * }
 * }</pre>
 *
 * <p><b>Threads</b> (muse.h, "Thread safety"): {@link #intent}, {@link #channel},
 * {@link #daemonAlive} and {@link #incarnation} may be called from any number
 * of threads at once. {@link #close} must not run concurrently with any other
 * call on this client or its channels; it gives back the channels still
 * claimed, after which they throw IllegalStateException. A client must
 * outlive its channels.
 *
 * <p><b>fork()</b>: the JVM does not fork a running process; a child process
 * (ProcessBuilder) opens a client of its own. The claim descriptors are
 * O_CLOEXEC, so a child never holds this process's channels.
 *
 * <p><b>When mused is stopped, hung or restarted</b>: submissions are still
 * accepted until the rings fill, and a restarted mused answers them exactly
 * once; {@link #daemonAlive} tells serving from stopped or hung, and
 * {@link #incarnation} changes on a restart. Nothing else to do.
 */
public final class MuseClient implements AutoCloseable {
    /** mused's default runtime directory. */
    public static final String DEFAULT_RUNTIME_DIR = "/run/muse";
    /** The recommended heartbeat age for {@link #daemonAlive}: twenty 50 ms beats. */
    public static final long ALIVE_AGE_NANOS = 1_000_000_000L;

    private static final long CLIENT_SIZE = sizeof(LibMuse.SIZEOF_CLIENT);
    static final long CHANNEL_SIZE = sizeof(LibMuse.SIZEOF_CHANNEL);

    private final Arena arena;
    private final MemorySegment client;
    private final String tenant;
    private volatile boolean closed;

    private MuseClient(Arena arena, MemorySegment client, String tenant) {
        this.arena = arena;
        this.client = client;
        this.tenant = tenant;
    }

    /**
     * Opens a tenant's segment in mused's default runtime directory, /run/muse.
     *
     * @param tenant the tenant's name
     * @return the open client
     * @throws MuseException as {@link #open(String, String)}
     */
    public static MuseClient open(String tenant) {
        return open(tenant, DEFAULT_RUNTIME_DIR);
    }

    /**
     * Opens {@code <runtimeDir>/<tenant>.muse}.
     *
     * @param tenant the tenant's name
     * @param runtimeDir mused's runtime directory
     * @return the open client
     * @throws MuseException {@link Status#SYSTEM} with errno 2 (no such tenant, or mused has
     *         not created it yet) or 13 (this process is not in the tenant's group);
     *         {@link Status#NOT_READY}; {@link Status#ABI}; {@link Status#INVALID} (bad name)
     */
    public static MuseClient open(String tenant, String runtimeDir) {
        // Shared, not confined: channels are claimed from any thread.
        Arena arena = Arena.ofShared();
        try {
            MemorySegment client = arena.allocate(CLIENT_SIZE, 64);
            MemorySegment state = arena.allocate(LibMuse.CALL_STATE);
            int status = (int) LibMuse.OPEN_TENANT.invokeExact(state, client, arena.allocateFrom(runtimeDir),
                    arena.allocateFrom(tenant));
            if (status != 0) {
                throw new MuseException(status, "opening tenant " + tenant + " in " + runtimeDir,
                        (int) LibMuse.ERRNO.get(state, 0L));
            }
            return new MuseClient(arena, client, tenant);
        } catch (Throwable t) {
            arena.close();
            throw LibMuse.rethrow(t);
        }
    }

    private static long sizeof(java.lang.invoke.MethodHandle function) {
        try {
            return (long) function.invokeExact();
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        }
    }

    /**
     * The tenant this client opened.
     *
     * @return the tenant's name
     */
    public String tenant() {
        return tenant;
    }

    /**
     * Looks intent {@code name} up with its ordered feature names
     * (muse_intent_features). Cold: call it once, keep the Intent.
     *
     * @param name the intent's name, e.g. "card-not-present"
     * @return the intent, with its id and feature names
     * @throws MuseException {@link Status#UNKNOWN_INTENT}; {@link Status#SCHEMA_MISMATCH} (damaged segment)
     */
    public Intent intent(String name) {
        checkOpen();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment intent = call.allocateFrom(name);
            MemorySegment info = call.allocate(LibMuse.INTENT_INFO);
            MemorySegment length = call.allocate(JAVA_LONG);
            long capacity = 4096;
            for (int attempt = 0; attempt < 100; attempt++) {
                MemorySegment names = call.allocate(capacity);
                int status = (int) LibMuse.INTENT_FEATURES.invokeExact(client, intent, names, capacity, length, info);
                if (status == Status.OK.code) {
                    byte[] joined = names.asSlice(0, length.get(JAVA_LONG, 0)).toArray(JAVA_BYTE);
                    String text = new String(joined, StandardCharsets.UTF_8);
                    int count = info.get(JAVA_INT, LibMuse.INFO_FEATURE_COUNT);
                    List<String> features = count == 0 ? List.of() : List.of(text.split("\n", -1));
                    return new Intent(this, name, info.get(JAVA_INT, LibMuse.INFO_ID),
                            info.get(JAVA_LONG, LibMuse.INFO_SCHEMA_HASH), features);
                }
                if (status == Status.NO_SCHEMA.code) return unnamed(name, call);
                if (status != Status.AGAIN.code) throw new MuseException(status, "intent " + name);
                // AGAIN: a buffer too small (length says what is needed), or the table changed under the read.
                capacity = Math.max(capacity, length.get(JAVA_LONG, 0) + 1);
            }
            throw new MuseException(Status.AGAIN.code, "intent " + name);
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        }
    }

    /* A segment made by an ABI 1.0 mused has no feature names: an intent with an id only. */
    private Intent unnamed(String name, Arena call) throws Throwable {
        MemorySegment info = call.allocate(LibMuse.INTENT_INFO);
        int status = (int) LibMuse.LOOKUP_INTENT.invokeExact(client, call.allocateFrom(name), info);
        if (status != 0) throw new MuseException(status, "intent " + name);
        throw new MuseException(Status.NO_SCHEMA.code, "intent " + name + " (id " + info.get(JAVA_INT, LibMuse.INFO_ID)
                + ") has no feature names: mused is older than ABI 1.1");
    }

    /**
     * Claims a channel whose views hold up to 256 completions. See {@link #channel(int)}.
     *
     * @return the claimed channel, for one thread at a time
     * @throws MuseException {@link Status#NO_CHANNEL} when every channel of the segment is claimed
     */
    public MuseChannel channel() {
        return channel(256);
    }

    /**
     * Claims a free channel: one per thread. {@code capacity} is how many
     * completions one {@link MuseChannel#poll} or {@link MuseChannel#await} reads at most.
     *
     * @param capacity the most completions one read returns
     * @return the claimed channel, for one thread at a time
     * @throws MuseException {@link Status#NO_CHANNEL} when every channel of the segment is claimed
     */
    public MuseChannel channel(int capacity) {
        checkOpen();
        return new MuseChannel(this, capacity);
    }

    /**
     * Whether mused serves this segment, beating recently enough.
     *
     * @param maxAgeNanos the oldest heartbeat that counts as alive
     * @return true if mused serves with a heartbeat younger than {@code maxAgeNanos}
     */
    public boolean daemonAlive(long maxAgeNanos) {
        checkOpen();
        try {
            return (int) LibMuse.DAEMON_ALIVE.invokeExact(client, maxAgeNanos) != 0;
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        }
    }

    /**
     * {@link #daemonAlive(long)} with {@link #ALIVE_AGE_NANOS}.
     *
     * @return true if mused serves with a heartbeat younger than a second
     */
    public boolean daemonAlive() {
        return daemonAlive(ALIVE_AGE_NANOS);
    }

    /**
     * Which mused serves the segment.
     *
     * @return the daemon incarnation that last adopted the segment: it changes on every mused restart
     */
    public long incarnation() {
        checkOpen();
        try {
            return (long) LibMuse.INCARNATION.invokeExact(client);
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        }
    }

    /**
     * Gives back the channels still claimed, unmaps the segment and frees the
     * native memory. Idempotent. Not concurrently with other calls on this
     * client or its channels.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            LibMuse.CLOSE.invokeExact(client);
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        } finally {
            arena.close();
        }
    }

    /**
     * Whether this client is closed.
     *
     * @return true once {@link #close} has run
     */
    public boolean isClosed() {
        return closed;
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("MuseClient for tenant " + tenant + " is closed");
    }

    /** The native muse_client; only while open. */
    MemorySegment handle() {
        return client;
    }
}
