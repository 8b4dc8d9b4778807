package dev.muse;

/**
 * A libmuse call failed: carries the muse_status and muse_strerror's text,
 * plus errno when the status is {@link Status#SYSTEM} (e.g. 2, ENOENT, for a
 * tenant mused does not serve; 13, EACCES, for a process outside the
 * tenant's group).
 */
public final class MuseException extends RuntimeException {
    /** The serialized form's version. */
    private static final long serialVersionUID = 1L;

    /** The C muse_status value. */
    private final int code;
    /** errno after the failed call, for {@link Status#SYSTEM}; else 0. */
    private final int errno;

    MuseException(int code, String what) {
        this(code, what, 0);
    }

    MuseException(int code, String what, int errno) {
        super(what + ": " + LibMuse.strerror(code) + (code == Status.SYSTEM.code ? " (errno " + errno + ")" : ""));
        this.code = code;
        this.errno = errno;
    }

    /**
     * Why the call failed.
     *
     * @return the status, or null for a code this binding does not know (see {@link #code()})
     */
    public Status status() {
        return Status.of(code);
    }

    /**
     * Why the call failed, as a number.
     *
     * @return the C muse_status value
     */
    public int code() {
        return code;
    }

    /**
     * The system's reason when {@link #status()} is {@link Status#SYSTEM}.
     *
     * @return errno after the failed call when the status is SYSTEM, else 0
     */
    public int errno() {
        return errno;
    }
}
