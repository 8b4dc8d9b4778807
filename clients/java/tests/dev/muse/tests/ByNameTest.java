package dev.muse.tests;

import dev.muse.Completions;
import dev.muse.IdlePolicy;
import dev.muse.Intent;
import dev.muse.MuseChannel;
import dev.muse.MuseClient;
import dev.muse.Status;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Intents and features looked up by name, events scored by name (absent
 * names are missing), the schema check, and await under each idle policy.
 * Usage: ByNameTest RUNTIME_DIR (tenant "java")
 */
public final class ByNameTest {
    public static void main(String[] args) {
        try (MuseClient client = MuseClient.open("java", args[0])) {
            Intent cnp = client.intent("card-not-present");
            List<String> names = new ArrayList<>();
            for (int i = 0; i < 16; i++) names.add("f" + i);
            Check.that(cnp.featureCount() == 16 && cnp.featureNames().equals(names),
                    "card-not-present has features f0..f15 in order", cnp);
            Check.that(cnp.index("f11") == 11, "feature f11 is at position 11", cnp.index("f11"));
            Intent cp = client.intent("card-present");
            Check.that(cp.featureCount() == 8 && cp.id() != cnp.id(), "card-present has 8 features and its own id", cp);

            Check.runs(() -> cnp.check(names), "the intent's own feature order passes the schema check");
            List<String> reversed = new ArrayList<>(names);
            Collections.reverse(reversed);
            Check.throwsMuse(Status.SCHEMA_MISMATCH, () -> cnp.check(reversed),
                    "a reversed feature order fails the schema check with SCHEMA_MISMATCH");

            double[] vector = cp.vector(Map.of("f3", 1.5, "f0", -2.0));
            Check.that(vector[3] == 1.5 && vector[0] == -2.0 && Double.isNaN(vector[1]),
                    "a vector by name places values and leaves absent names NaN");

            try (MuseChannel channel = client.channel()) {
                Map<String, Double> features = new HashMap<>();
                for (int i = 0; i < 8; i++) features.put("f" + i, 0.1 * i);
                Completions done = channel.score(cp, features);
                Check.that(done.size() == 1 && done.ok(0) && Expected.same(done.score(0),
                        Expected.score(cp.vector(features))), "score by name is the formula, bit for bit",
                        done.size() == 1 ? done.score(0) : "none");

                done = channel.score(cp, Map.of("f0", 1.0));
                Check.that(done.ok(0) && Expected.same(done.score(0), Expected.score(cp.vector(Map.of("f0", 1.0)))),
                        "missing features (NaN) are imputed by the model");

                Map<String, Double> broken = new HashMap<>(Map.of("f0", Double.POSITIVE_INFINITY,
                        "f1", Double.NEGATIVE_INFINITY));
                done = channel.score(cp, broken);
                Check.that(done.status(0) == Status.BAD_SCORE && Double.isNaN(done.score(0)),
                        "a non-finite model result is BAD_SCORE, never OK", done.status(0));

                for (IdlePolicy policy : IdlePolicy.values()) {
                    int right = 0;
                    for (int tag = 0; tag < 100; tag++) {
                        double[] x = new double[16];
                        java.util.Arrays.fill(x, tag / 100.0);
                        channel.submit(tag, cnp, x);
                        Completions got = channel.await(1_000_000_000L, policy);
                        if (got.size() == 1 && got.tag(0) == tag && got.ok(0)
                                && Expected.same(got.score(0), Expected.score(x)))
                            right++;
                    }
                    Check.that(right == 100, "await with " + policy + " returns each answer in turn", right);
                    long start = System.nanoTime();
                    Completions none = channel.await(10_000_000L, policy);
                    long waited = System.nanoTime() - start;
                    Check.that(none.isEmpty() && waited >= 10_000_000L,
                            "await with " + policy + " and nothing in flight times out empty after 10 ms", waited);
                }
                Check.that(channel.poll().isEmpty() && channel.inFlight() == 0, "nothing left in flight");
            }
        }
        Check.finish();
    }
}
