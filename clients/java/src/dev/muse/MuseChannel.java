package dev.muse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A claimed channel: a pair of rings to mused (muse.h's muse_channel, in
 * native memory this object owns). Submit events with a tag, read their
 * completions, matched by tag, in submission order.
 *
 * <p><b>One thread at a time.</b> A channel is not thread-safe (muse.h: submit,
 * poll, wait and release from one thread at a time); the intended design is
 * one channel per thread, claimed from a shared {@link MuseClient}. It may be
 * handed to another thread only through ordinary synchronisation (a lock, a
 * queue). Different channels are fully independent.
 *
 * <p><b>No allocation on the hot path.</b> {@link #submit} copies the values
 * into the channel's native staging buffer; {@link #poll}, {@link #await} and
 * {@link #score} fill the channel's {@link Completions} view, which the next
 * read overwrites. submit and poll are critical downcalls (no thread-state
 * transition); await is an ordinary one, because it may sleep.
 *
 * <p>After {@link #close} (or the client's close) every method throws
 * IllegalStateException. A channel holds at most 2 x ring depth events in
 * flight; {@link #submit} returns false when the rings are full: read
 * completions, then retry.
 */
public final class MuseChannel implements AutoCloseable {
    private final MuseClient client;
    private final Arena arena;
    private final MemorySegment channel;
    private MemorySegment staging;
    private final MemorySegment count;
    private final Completions completions;
    private double[] byName = new double[0];
    private long inFlight;
    private long nextScoreTag;
    private boolean closed;

    MuseChannel(MuseClient client, int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be at least 1, not " + capacity);
        this.client = client;
        // Shared so the channel can be handed to another thread (see the class comment).
        this.arena = Arena.ofShared();
        try {
            channel = arena.allocate(MuseClient.CHANNEL_SIZE, 64);
            MemorySegment state = arena.allocate(LibMuse.CALL_STATE);
            int status = (int) LibMuse.CLAIM.invokeExact(state, client.handle(), channel);
            if (status != 0) throw new MuseException(status, "claiming a channel of tenant " + client.tenant(),
                    (int) LibMuse.ERRNO.get(state, 0L));
            staging = arena.allocate(JAVA_DOUBLE, 64);
            count = arena.allocate(JAVA_LONG);
            completions = new Completions(arena.allocate(Completions.LAYOUT, capacity), capacity);
        } catch (Throwable t) {
            arena.close();
            throw LibMuse.rethrow(t);
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("MuseChannel is closed");
        client.checkOpen();
    }

    /**
     * Submits one event with the intent's features in its order
     * ({@link Intent#vector} builds them by name; NaN is missing).
     *
     * @param tag echoed by the event's completion: how answers are matched to events
     * @param intent the event's intent, from {@link MuseClient#intent}
     * @param features the intent's {@link Intent#featureCount()} values, in its order
     * @return true if taken; false if the rings are full (nothing written:
     *         read completions, then retry)
     * @throws IllegalArgumentException if {@code features} does not hold exactly the intent's count
     * @throws MuseException {@link Status#INVALID}, or on a channel inherited through fork {@link Status#FORKED}
     */
    public boolean submit(long tag, Intent intent, double[] features) {
        checkOpen();
        int n = intent.featureCount();
        if (features.length != n)
            throw new IllegalArgumentException(intent.name() + " takes " + n + " features, not " + features.length);
        // Grown once per larger intent, never per event; the segment's own limit is mused's to check.
        if (staging.byteSize() < (long) n * Double.BYTES) staging = arena.allocate(JAVA_DOUBLE, n);
        MemorySegment.copy(features, 0, staging, JAVA_DOUBLE, 0, n);
        int status;
        try {
            status = (int) LibMuse.SUBMIT.invokeExact(channel, tag, intent.id(), staging, n);
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        }
        if (status == 0) {
            inFlight++;
            return true;
        }
        if (status == Status.AGAIN.code) return false;
        throw new MuseException(status, "submit");
    }

    /**
     * Tells mused an event is coming on this channel (muse.h's
     * {@code muse_prepare}): call it when a request arrives, before computing
     * its features, so a worker asleep wakes meanwhile and is awake when the
     * event is submitted, and the slot the event goes to is fetched into the
     * cache. One look at a flag and a prefetch while mused is awake, one
     * futex wake when it sleeps; harmless whatever mused does.
     *
     * @throws MuseException on a channel inherited through fork ({@link Status#FORKED})
     */
    public void prepare() {
        checkOpen();
        int status;
        try {
            status = (int) LibMuse.PREPARE.invokeExact(channel);
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        }
        if (status != 0) throw new MuseException(status, "prepare");
    }

    /**
     * Reads the completions waiting, without blocking, into this channel's
     * view (empty if none).
     *
     * @return this channel's view, holding what was read
     */
    public Completions poll() {
        checkOpen();
        long n;
        try {
            n = (long) LibMuse.POLL.invokeExact(channel, completions.records, (long) completions.capacity);
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        }
        completions.size = (int) n;
        inFlight -= n;
        return completions;
    }

    /**
     * Waits until at least one completion is there or the timeout passes,
     * idling as {@code policy} says, then reads them into this channel's view
     * (empty after the timeout). A negative timeout waits without a deadline
     * but checks on mused every 100 ms.
     *
     * @param timeoutNanos how long to wait at most; negative: no deadline
     * @param policy how to idle meanwhile
     * @return this channel's view, holding what was read (empty after the timeout)
     * @throws MuseException {@link Status#DAEMON_GONE} (negative timeout only: mused stopped, died
     *         or hangs; the events stay in flight and a restarted mused answers them);
     *         {@link Status#CORRUPT}; {@link Status#FORKED}
     */
    public Completions await(long timeoutNanos, IdlePolicy policy) {
        checkOpen();
        int status;
        try {
            status = (int) LibMuse.WAIT_IDLE.invokeExact(channel, completions.records, (long) completions.capacity,
                    count, timeoutNanos, policy.code);
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        }
        if (status == Status.TIMEDOUT.code) {
            completions.size = 0;
            return completions;
        }
        if (status != 0) {
            completions.size = 0;
            throw new MuseException(status, "await");
        }
        long n = count.get(JAVA_LONG, 0);
        completions.size = (int) n;
        inFlight -= n;
        return completions;
    }

    /**
     * {@link #await(long, IdlePolicy)} with {@link IdlePolicy#ADAPTIVE}.
     *
     * @param timeoutNanos how long to wait at most; negative: no deadline
     * @return this channel's view, holding what was read (empty after the timeout)
     */
    public Completions await(long timeoutNanos) {
        return await(timeoutNanos, IdlePolicy.ADAPTIVE);
    }

    /**
     * Scores one event and waits for its answer: the single-event round trip.
     * Only with nothing else in flight on this channel. Spins on poll for up
     * to 50 µs (the usual answer takes a microsecond), then sleeps on the
     * channel's futex with no deadline.
     *
     * @param intent the event's intent, from {@link MuseClient#intent}
     * @param features the intent's {@link Intent#featureCount()} values, in its order
     * @return this channel's view holding the one answer (check {@code ok(0)})
     * @throws IllegalStateException if other events are in flight
     * @throws MuseException {@link Status#DAEMON_GONE} if mused is not serving (the event stays in
     *         flight: {@link #await} it later, or give the channel up)
     */
    public Completions score(Intent intent, double[] features) {
        if (inFlight != 0)
            throw new IllegalStateException(inFlight + " events in flight: score needs the channel to itself");
        long tag = nextScoreTag++;
        // With nothing in flight the rings are empty: a refusal would mean corrupt indices.
        if (!submit(tag, intent, features)) throw new IllegalStateException("rings full with nothing in flight");
        long spinUntil = System.nanoTime() + 50_000;
        for (int spins = 0;; spins++) {
            if (poll().size() > 0) break;
            if ((spins & 63) == 63 && System.nanoTime() > spinUntil) {
                // No deadline: returns the answer, or throws once mused is gone.
                // LOW_POWER: the spin is done, ADAPTIVE would spin 50 µs more.
                if (await(-1, IdlePolicy.LOW_POWER).size() > 0) break;
            }
            Thread.onSpinWait();
        }
        if (completions.tag(0) != tag)
            throw new IllegalStateException("answer for tag " + completions.tag(0) + ", expected " + tag);
        return completions;
    }

    /**
     * {@link #score(Intent, double[])} with the features by name; names the
     * map lacks are NaN (missing).
     *
     * @param intent the event's intent, from {@link MuseClient#intent}
     * @param features values by feature name
     * @return this channel's view holding the one answer (check {@code ok(0)})
     * @throws MuseException {@link Status#UNKNOWN_FEATURE} for a name the intent does not have
     */
    public Completions score(Intent intent, Map<String, Double> features) {
        checkOpen();
        if (byName.length != intent.featureCount()) byName = new double[intent.featureCount()];
        intent.fill(features, byName);
        return score(intent, byName);
    }

    /**
     * The events in flight on this channel.
     *
     * @return how many submitted events' completions this channel has not read yet
     */
    public long inFlight() {
        return inFlight;
    }

    /**
     * Gives the channel back (muse_release): unread completions are dropped.
     * Idempotent; harmless after the client's close.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            if (!client.isClosed()) LibMuse.RELEASE.invokeExact(channel);
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        } finally {
            arena.close();
        }
    }
}
