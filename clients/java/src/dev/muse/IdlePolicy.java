package dev.muse;

/**
 * How {@link MuseChannel#await} waits while no completion is there: muse.h's
 * muse_idle_policy, the client's side of mused's {@code --idle-policy}.
 */
public enum IdlePolicy {
    /** Spin for 50 µs, then sleep on the channel's futex: a good default. */
    ADAPTIVE(0),
    /** Never sleep: the lowest latency, burning a core until the answer or the deadline. */
    BUSY_SPIN(1),
    /** Sleep on the futex at once: the least CPU, a wake-up (some µs) per wait. */
    LOW_POWER(2);

    /** The C value (MUSE_IDLE_*). */
    final int code;

    IdlePolicy(int code) {
        this.code = code;
    }
}
