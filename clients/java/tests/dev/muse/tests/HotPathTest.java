package dev.muse.tests;

import dev.muse.Completions;
import dev.muse.IdlePolicy;
import dev.muse.Intent;
import dev.muse.MuseChannel;
import dev.muse.MuseClient;

import java.lang.management.ManagementFactory;

/**
 * The hot path allocates nothing on the Java heap: once the JIT has compiled
 * it, submit, poll, await and reading the Completions view cost no bytes per
 * event (measured with the JVM's per-thread allocation counter).
 * Usage: HotPathTest RUNTIME_DIR (tenant "java")
 */
public final class HotPathTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        try (MuseClient client = MuseClient.open("java", args[0]); MuseChannel channel = client.channel()) {
            Intent intent = client.intent("card-not-present");
            double[] x = new double[16];
            roundTrips(channel, intent, x, 200_000); // warm-up: let the JIT compile the loop
            // The least of five windows: a one-off (a JIT recompilation, a TLAB refill
            // counted at once) can land in any window, an allocation per event in all.
            long least = Long.MAX_VALUE, answered = 0;
            for (int window = 0; window < 5; window++) {
                long before = THREADS.getCurrentThreadAllocatedBytes();
                answered += roundTrips(channel, intent, x, 100_000);
                least = Math.min(least, THREADS.getCurrentThreadAllocatedBytes() - before);
            }
            Check.that(answered == 500_000, "500,000 round trips answered", answered);
            // One object per event would be at least 16 bytes x 100,000.
            Check.that(least < 1024, "100,000 round trips allocate under 1 KB in all", least + " bytes");
        }
        Check.finish();
    }

    /** Submit one, then poll (even events) or await (odd) its answer; returns how many came back OK. */
    private static long roundTrips(MuseChannel channel, Intent intent, double[] x, int events) {
        long ok = 0;
        for (int i = 0; i < events; i++) {
            x[i & 15] = i * 1e-6;
            while (!channel.submit(i, intent, x)) Thread.onSpinWait();
            Completions done;
            if ((i & 1) == 0) {
                while ((done = channel.poll()).isEmpty()) Thread.onSpinWait();
            } else {
                done = channel.await(1_000_000_000L, IdlePolicy.BUSY_SPIN);
            }
            if (done.size() == 1 && done.tag(0) == i && done.ok(0) && done.score(0) > 0) ok++;
        }
        return ok;
    }
}
