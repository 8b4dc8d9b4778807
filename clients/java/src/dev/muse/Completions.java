package dev.muse;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The completions the last {@link MuseChannel#poll}, {@link MuseChannel#await}
 * or {@link MuseChannel#score} read, as a view over the channel's native
 * buffer of muse_completion records: reading them allocates nothing. Each
 * channel has one view, which the next read overwrites; copy out what must
 * outlive it. Valid until the channel is closed (then every accessor throws
 * IllegalStateException). Index 0 .. {@link #size()} - 1, oldest first.
 */
public final class Completions {
    /**
     * muse.h's muse_completion, 64 bytes; offsets checked against the header
     * by the binding's layout test (and by muse.h's own _Static_asserts:
     * size 64, score at 16).
     */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("tag"),
            JAVA_INT.withName("status"),
            JAVA_INT.withName("predictor_id"),
            JAVA_DOUBLE.withName("score"),
            JAVA_DOUBLE.withName("raw_score"),
            JAVA_LONG.withName("generation_id"),
            MemoryLayout.sequenceLayout(3, JAVA_LONG).withName("reserved")).withName("muse_completion");

    private static final long SIZE = LAYOUT.byteSize();
    private static final long TAG = offset("tag");
    private static final long STATUS = offset("status");
    private static final long PREDICTOR_ID = offset("predictor_id");
    private static final long SCORE = offset("score");
    private static final long RAW_SCORE = offset("raw_score");
    private static final long GENERATION_ID = offset("generation_id");

    final MemorySegment records;
    final int capacity;
    int size;

    Completions(MemorySegment records, int capacity) {
        this.records = records;
        this.capacity = capacity;
    }

    private static long offset(String field) {
        return LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    private long at(int i) {
        return Objects.checkIndex(i, size) * SIZE;
    }

    /**
     * How many completions the last read returned.
     *
     * @return the count, 0 after a timeout or an empty poll
     */
    public int size() {
        return size;
    }

    /**
     * Whether the last read returned no completion.
     *
     * @return true if it returned none
     */
    public boolean isEmpty() {
        return size == 0;
    }

    /**
     * The tag of completion {@code i}.
     *
     * @param i the completion's index, 0 to {@link #size()} - 1
     * @return the tag given to submit, echoed by mused
     */
    public long tag(int i) {
        return records.get(JAVA_LONG, at(i) + TAG);
    }

    /**
     * mused's verdict on completion {@code i}, as a number.
     *
     * @param i the completion's index, 0 to {@link #size()} - 1
     * @return the C muse_status value (0 is OK)
     */
    public int statusCode(int i) {
        return records.get(JAVA_INT, at(i) + STATUS);
    }

    /**
     * mused's verdict on completion {@code i}.
     *
     * @param i the completion's index, 0 to {@link #size()} - 1
     * @return the status, or null for a code this binding does not know
     */
    public Status status(int i) {
        return Status.of(statusCode(i));
    }

    /**
     * Whether completion {@code i}'s event was scored.
     *
     * @param i the completion's index, 0 to {@link #size()} - 1
     * @return true if it was; then {@link #score} is finite
     */
    public boolean ok(int i) {
        return statusCode(i) == 0;
    }

    /**
     * Completion {@code i}'s score, the one to compare thresholds to.
     *
     * @param i the completion's index, 0 to {@link #size()} - 1
     * @return the score on the reference scale; NaN unless OK
     */
    public double score(int i) {
        return records.get(JAVA_DOUBLE, at(i) + SCORE);
    }

    /**
     * Completion {@code i}'s raw score.
     *
     * @param i the completion's index, 0 to {@link #size()} - 1
     * @return the predictor's probability before the tenant's score map; NaN unless OK
     */
    public double rawScore(int i) {
        return records.get(JAVA_DOUBLE, at(i) + RAW_SCORE);
    }

    /**
     * The predictor that scored completion {@code i}'s event.
     *
     * @param i the completion's index, 0 to {@link #size()} - 1
     * @return the predictor's id in the serving generation
     */
    public int predictorId(int i) {
        return records.get(JAVA_INT, at(i) + PREDICTOR_ID);
    }

    /**
     * The generation that scored completion {@code i}'s event.
     *
     * @param i the completion's index, 0 to {@link #size()} - 1
     * @return the generation id ({@code musectl status} shows the serving one)
     */
    public long generationId(int i) {
        return records.get(JAVA_LONG, at(i) + GENERATION_ID);
    }
}
