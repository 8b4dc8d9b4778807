package dev.muse;

/**
 * A libmuse call failed: carries the muse_status and muse_strerror's text,
 * plus errno when the status is {@link Status#SYSTEM} (e.g. 2, ENOENT, for a
 * tenant mused does not serve; 13, EACCES, for a process outside the
 * tenant's group).
 */
public final class MuseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;
    private final int errno;

    MuseException(int code, String what) {
        this(code, what, 0);
    }

    MuseException(int code, String what, int errno) {
        super(what + ": " + LibMuse.strerror(code) + (code == Status.SYSTEM.code ? " (errno " + errno + ")" : ""));
        this.code = code;
        this.errno = errno;
    }

    /** The status, or null for a code this binding does not know (see {@link #code()}). */
    public Status status() {
        return Status.of(code);
    }

    /** The C status value. */
    public int code() {
        return code;
    }

    /** errno after the failed call when {@link #status()} is SYSTEM, else 0. */
    public int errno() {
        return errno;
    }
}
