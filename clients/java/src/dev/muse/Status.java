package dev.muse;

/**
 * muse.h's muse_status. Codes 0..63 are a completion's verdict on one event;
 * 64 and above are returned by calls (and carried by {@link MuseException}).
 * A newer mused may add codes: {@link #of} answers null for one this binding
 * does not know, and {@link Completions#statusCode} gives the number.
 */
public enum Status {
    OK(0),
    UNKNOWN_INTENT(1),
    FEATURE_COUNT(2),
    NO_ROUTE(3),
    OVERLOADED(4),
    NOT_SERVING(5),
    INTERNAL(6),
    BAD_SCORE(7),
    AGAIN(64),
    TIMEDOUT(65),
    INVALID(66),
    NO_CHANNEL(67),
    ABI(68),
    SYSTEM(69),
    NOT_READY(70),
    CORRUPT(71),
    DAEMON_GONE(72),
    FORKED(73),
    NO_SCHEMA(74),
    UNKNOWN_FEATURE(75),
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

    /** The status with this C value, or null for a code this binding does not know. */
    public static Status of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** muse_strerror's description. */
    public String message() {
        return LibMuse.strerror(code);
    }
}
