/*
 * ScoreEvents: a minimal Java client of Muse. Copy it as a starting point.
 *
 *     tools/build-libmuse.sh && jar=$(clients/java/build.sh)    # out/java/muse-client-VERSION.jar
 *     MUSE_LIBRARY=out/libmuse/lib/libmuse.so.1 java --enable-native-access=dev.muse \
 *          --module-path "$jar" --add-modules dev.muse \
 *          clients/java/examples/ScoreEvents.java /run/muse acme 1000 [FEATURE]
 *
 * It claims a channel of the tenant's segment, looks the intent
 * "card-not-present" up with its feature names, varies feature FEATURE
 * (default: the intent's first) and leaves the others missing (NaN), keeps
 * the rings full while it submits N events, and reads every completion back,
 * matched by tag. If mused stops answering for 5 s it gives up (exit 1):
 * what it submitted stays in the ring and a restarted mused would answer it.
 */
import dev.muse.Completions;
import dev.muse.IdlePolicy;
import dev.muse.Intent;
import dev.muse.MuseChannel;
import dev.muse.MuseClient;
import dev.muse.MuseException;

import java.util.Arrays;

public final class ScoreEvents {
    public static void main(String[] args) {
        if (args.length < 3) {
            System.err.println("usage: ScoreEvents RUNTIME_DIR TENANT EVENTS [FEATURE]");
            System.exit(2);
        }
        int events = Integer.parseInt(args[2]);
        try (MuseClient client = MuseClient.open(args[1], args[0]);
             MuseChannel channel = client.channel()) {                     // one channel per thread
            Intent intent = client.intent("card-not-present");
            String feature = args.length > 3 ? args[3] : intent.featureNames().get(0);
            int position = intent.index(feature);                          // by name, never by assumed position
            double[] x = new double[intent.featureCount()];
            Arrays.fill(x, Double.NaN);                                    // NaN: missing
            long submitted = 0, answered = 0, flagged = 0;
            double sum = 0;
            while (answered < events) {
                // Fill the rings; submit returns false when they are full.
                while (submitted < events) {
                    x[position] = submitted / (double) events;
                    if (!channel.submit(submitted, intent, x)) break;
                    submitted++;
                }
                Completions done = channel.await(5_000_000_000L, IdlePolicy.ADAPTIVE);
                if (done.isEmpty()) {
                    System.err.println("mused answered nothing for 5 s (alive: " + client.daemonAlive() + "); giving up");
                    System.exit(1);
                }
                for (int i = 0; i < done.size(); i++, answered++) {
                    if (!done.ok(i)) {
                        System.err.println("event " + done.tag(i) + ": " + done.status(i).message());
                        continue;
                    }
                    sum += done.score(i);
                    if (done.score(i) > 0.9) flagged++;
                }
            }
            System.out.printf("events=%d feature=%s mean_score=%.6f above_0.9=%d%n", answered, feature,
                    sum / answered, flagged);
        } catch (MuseException e) {
            System.err.println(e.getMessage());
            System.exit(1);
        }
    }
}
