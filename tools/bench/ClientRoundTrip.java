/*
 * Round trip from Java through the clients/java binding (java.lang.foreign
 * over libmuse.so) with one event in flight, 16 features, as
 * client_roundtrip.c does from C: submit, spin on poll until the answer is
 * read, each timed with System.nanoTime. Prints exact p50/p90/p99/p99.9.
 * Usage (source launcher, JDK 22+):
 *   java --enable-native-access=ALL-UNNAMED -Dmuse.library=out/libmuse/lib/libmuse.so.1 \
 *        -cp out/java/muse-client-VERSION.jar tools/bench/ClientRoundTrip.java DIR TENANT EVENTS
 */
import dev.muse.Completions;
import dev.muse.Intent;
import dev.muse.MuseChannel;
import dev.muse.MuseClient;

import java.util.Arrays;

public final class ClientRoundTrip {
    public static void main(String[] args) {
        int events = Integer.parseInt(args[2]), warmup = events / 10;
        long[] ns = new long[events];
        try (MuseClient client = MuseClient.open(args[1], args[0]); MuseChannel channel = client.channel()) {
            Intent intent = client.intent("card-not-present");
            double[] x = new double[16];
            Arrays.fill(x, 0.01);
            for (int i = 0; i < warmup + events; i++) {
                long start = System.nanoTime();
                while (!channel.submit(i, intent, x)) Thread.onSpinWait();
                Completions done;
                while ((done = channel.poll()).isEmpty()) Thread.onSpinWait();
                long end = System.nanoTime();
                if (done.tag(0) != i || !done.ok(0)) throw new IllegalStateException("bad answer for " + i);
                if (i >= warmup) ns[i - warmup] = end - start;
            }
        }
        Arrays.sort(ns);
        System.out.printf("java_roundtrip events=%d p50_us=%.3f p90_us=%.3f p99_us=%.3f p999_us=%.3f%n", events,
                ns[events / 2] / 1e3, ns[(int) (events * 9L / 10)] / 1e3, ns[(int) (events * 99L / 100)] / 1e3,
                ns[(int) (events * 999L / 1000)] / 1e3);
    }
}
