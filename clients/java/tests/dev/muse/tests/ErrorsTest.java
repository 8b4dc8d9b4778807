package dev.muse.tests;

import dev.muse.Completions;
import dev.muse.IdlePolicy;
import dev.muse.Intent;
import dev.muse.MuseChannel;
import dev.muse.MuseClient;
import dev.muse.MuseException;
import dev.muse.Status;

import java.util.Map;

/**
 * Failures carry the right status, and a closed channel or client throws
 * IllegalStateException instead of touching freed native memory.
 * Usage: ErrorsTest RUNTIME_DIR (tenants "java" and "solo", the latter with 1 channel)
 */
public final class ErrorsTest {
    public static void main(String[] args) {
        String dir = args[0];
        try {
            MuseClient.open("nobody", dir).close();
            Check.that(false, "opening a tenant mused does not serve fails", "it opened");
        } catch (MuseException e) {
            Check.that(e.status() == Status.SYSTEM && e.errno() == 2,
                    "opening a tenant mused does not serve fails with SYSTEM, errno ENOENT", e.getMessage());
            Check.that(e.getMessage().contains("system call failed"), "the message carries muse_strerror's text",
                    e.getMessage());
        }
        Check.throwsMuse(Status.INVALID, () -> MuseClient.open("a/b", dir), "a tenant name with '/' is INVALID");

        MuseClient client = MuseClient.open("java", dir);
        Check.throwsMuse(Status.UNKNOWN_INTENT, () -> client.intent("wire-transfer"),
                "an unknown intent is UNKNOWN_INTENT");
        Intent cnp = client.intent("card-not-present");
        Check.throwsMuse(Status.UNKNOWN_FEATURE, () -> cnp.index("amount"), "an unknown feature is UNKNOWN_FEATURE");
        MuseChannel channel = client.channel();
        Check.throwsMuse(Status.UNKNOWN_FEATURE, () -> channel.score(cnp, Map.of("amount", 1.0)),
                "scoring by an unknown feature name is UNKNOWN_FEATURE");
        Check.throwsType(IllegalArgumentException.class, () -> channel.submit(1, cnp, new double[5]),
                "5 values for a 16-feature intent is IllegalArgumentException");
        Check.runs(channel::prepare, "prepare on a claimed channel is harmless");
        Check.that(channel.submit(2, cnp, new double[16]), "a well-formed submit is taken");
        Check.throwsType(IllegalStateException.class, () -> channel.score(cnp, new double[16]),
                "score with another event in flight is IllegalStateException");
        Completions done = channel.await(1_000_000_000L, IdlePolicy.ADAPTIVE);
        Check.that(done.size() == 1 && done.tag(0) == 2, "the in-flight event is answered");
        Check.throwsType(IndexOutOfBoundsException.class, () -> done.score(1),
                "reading past the completions read is IndexOutOfBoundsException");

        channel.close();
        Check.runs(channel::close, "closing a channel twice is harmless");
        Check.throwsType(IllegalStateException.class, () -> channel.submit(3, cnp, new double[16]),
                "submit on a closed channel is IllegalStateException");
        Check.throwsType(IllegalStateException.class, channel::poll, "poll on a closed channel is IllegalStateException");
        Check.throwsType(IllegalStateException.class, channel::prepare,
                "prepare on a closed channel is IllegalStateException");
        Check.throwsType(IllegalStateException.class, () -> channel.await(1000, IdlePolicy.BUSY_SPIN),
                "await on a closed channel is IllegalStateException");
        Check.throwsType(IllegalStateException.class, () -> done.score(0),
                "a closed channel's completions view is IllegalStateException");

        MuseChannel orphan = client.channel();
        client.close();
        Check.throwsType(IllegalStateException.class, () -> orphan.submit(4, cnp, new double[16]),
                "a channel of a closed client is IllegalStateException");
        orphan.close();
        Check.throwsType(IllegalStateException.class, client::channel, "channel() on a closed client is IllegalStateException");
        Check.throwsType(IllegalStateException.class, () -> client.intent("card-present"),
                "intent() on a closed client is IllegalStateException");
        Check.throwsType(IllegalStateException.class, () -> cnp.check(cnp.featureNames()),
                "an intent of a closed client is IllegalStateException");

        try (MuseClient solo = MuseClient.open("solo", dir)) {
            MuseChannel only = solo.channel();
            Check.throwsMuse(Status.NO_CHANNEL, solo::channel, "a second channel of a 1-channel tenant is NO_CHANNEL");
            only.close();
            try (MuseChannel again = solo.channel()) {
                Check.that(again.poll().isEmpty(), "a released channel can be claimed again");
            }
        }
        Check.finish();
    }
}
