package dev.muse;

/**
 * muse.h's muse_status. Codes 0..63 are a completion's verdict on one event;
 * 64 and above are returned by calls (and carried by {@link MuseException}).
 * A newer mused may add codes: {@link #of} answers null for one this binding
 * does not know, and {@link Completions#statusCode} gives the number.
 */
public enum Status {
    /** Done: a completion's event was scored, or a call succeeded. */
    OK(0),
    /** In a completion: the intent id names no intent of this tenant. */
    UNKNOWN_INTENT(1),
    /** In a completion: the event's feature count differs from its intent's. */
    FEATURE_COUNT(2),
    /** In a completion: the serving generation routes this tenant's intent nowhere. */
    NO_ROUTE(3),
    /** In a completion: the tenant is over its rate limit; retry later. */
    OVERLOADED(4),
    /** In a completion: no model generation is loaded. */
    NOT_SERVING(5),
    /** In a completion: mused failed to score this event. */
    INTERNAL(6),
    /** In a completion: the model produced a NaN or infinite score. */
    BAD_SCORE(7),
    /** The rings are full (backpressure), or there is nothing to read. */
    AGAIN(64),
    /** A wait's timeout passed with nothing to read. */
    TIMEDOUT(65),
    /** A bad argument (too many features, a bad name, ...). */
    INVALID(66),
    /** Every channel of the segment is claimed. */
    NO_CHANNEL(67),
    /** Not a Muse segment, or an incompatible ABI major version. */
    ABI(68),
    /** A system call failed; {@link MuseException#errno()} says which way. */
    SYSTEM(69),
    /** The segment is still being created. */
    NOT_READY(70),
    /** The channel's ring indices are inconsistent. */
    CORRUPT(71),
    /** mused stopped, died or hangs (its heartbeat is stale). */
    DAEMON_GONE(72),
    /** The channel was claimed by the parent of this forked process. */
    FORKED(73),
    /** The segment carries no feature names (made by an ABI 1.0 mused). */
    NO_SCHEMA(74),
    /** The intent has no feature of that name. */
    UNKNOWN_FEATURE(75),
    /** The feature names differ from the intent's schema. */
    SCHEMA_MISMATCH(76);

    /** The C value. */
    public final int code;

    private static final Status[] BY_CODE = new Status[128];

    static {
        for (Status s : values()) BY_CODE[s.code] = s;
    }

    Status(int code) {
        this.code = code;
    }

    /**
     * The status with a C value.
     *
     * @param code a muse_status value
     * @return its status, or null for a code this binding does not know
     */
    public static Status of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /**
     * muse_strerror's description of this status.
     *
     * @return the text libmuse gives for this code
     */
    public String message() {
        return LibMuse.strerror(code);
    }
}
