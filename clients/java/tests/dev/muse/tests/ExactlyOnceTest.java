package dev.muse.tests;

import dev.muse.Completions;
import dev.muse.IdlePolicy;
import dev.muse.Intent;
import dev.muse.MuseChannel;
import dev.muse.MuseClient;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Exactly once: every event submitted is answered once, in submission order
 * on its channel, status OK, with the formula's score bit for bit; for one
 * channel, for 4 threads sharing one client (a channel each), and for 4
 * client processes. The rings are kept full (pipelined submit, poll, await).
 * Usage: ExactlyOnceTest RUNTIME_DIR (tenant "java", at least 4 channels)
 *        ExactlyOnceTest --child RUNTIME_DIR WORKER EVENTS   (one client process)
 */
public final class ExactlyOnceTest {
    private static final int EVENTS = 40_000;

    /** What one worker saw: answers that were not the next expected tag, and wrong answers. */
    record Outcome(long answered, long outOfOrder, long wrong) {
        boolean clean(long events) {
            return answered == events && outOfOrder == 0 && wrong == 0;
        }

        @Override
        public String toString() {
            return "answered=" + answered + " out_of_order=" + outOfOrder + " wrong=" + wrong;
        }
    }

    /**
     * Streams {@code events} events of worker {@code worker} through one
     * channel of {@code client}. Tags are worker << 40 | sequence, so a
     * foreign answer shows as out of order.
     */
    static Outcome stream(MuseClient client, int worker, int events) {
        Intent cnp = client.intent("card-not-present");
        // The integrator's columns come in its own order (reversed here); the intent places them.
        List<String> mine = new ArrayList<>(cnp.featureNames()).reversed();
        int[] position = new int[mine.size()];
        for (int j = 0; j < mine.size(); j++) position[j] = cnp.index(mine.get(j));
        SplittableRandom random = new SplittableRandom(worker);
        double[][] rows = new double[events][cnp.featureCount()];
        for (double[] row : rows)
            for (int j = 0; j < mine.size(); j++) row[position[j]] = random.nextDouble(-0.5, 0.5);
        long first = (long) worker << 40;
        long sent = 0, answered = 0, outOfOrder = 0, wrong = 0;
        try (MuseChannel channel = client.channel()) {
            while (answered < events) {
                while (sent < events && channel.submit(first + sent, cnp, rows[(int) sent])) sent++;
                Completions done = channel.poll();
                if (done.isEmpty()) done = channel.await(1_000_000_000L, IdlePolicy.ADAPTIVE);
                if (done.isEmpty()) break; // a whole second without an answer: report what is lost
                for (int i = 0; i < done.size(); i++, answered++) {
                    if (done.tag(i) != first + answered) {
                        outOfOrder++;
                        continue;
                    }
                    if (!done.ok(i) || !Expected.same(done.score(i), Expected.score(rows[(int) answered]))) wrong++;
                }
            }
        }
        return new Outcome(answered, outOfOrder, wrong);
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("--child")) {
            try (MuseClient client = MuseClient.open("java", args[1])) {
                System.out.println("outcome " + stream(client, Integer.parseInt(args[2]), Integer.parseInt(args[3])));
            }
            return;
        }
        String dir = args[0];
        try (MuseClient client = MuseClient.open("java", dir)) {
            Outcome one = stream(client, 1, EVENTS);
            Check.that(one.clean(EVENTS), "one channel: every event answered once, in order, bit-exact", one);

            Outcome[] outcomes = new Outcome[4];
            Thread[] threads = new Thread[4];
            for (int t = 0; t < 4; t++) {
                int worker = t + 2;
                threads[t] = new Thread(() -> outcomes[worker - 2] = stream(client, worker, EVENTS));
                threads[t].start();
            }
            for (Thread thread : threads) thread.join();
            for (int t = 0; t < 4; t++)
                Check.that(outcomes[t] != null && outcomes[t].clean(EVENTS),
                        "4 threads x 1 client: thread " + t + " exactly once", outcomes[t]);
        }

        List<Process> processes = new ArrayList<>();
        for (int p = 0; p < 4; p++) processes.add(child(dir, 11 + p));
        for (int p = 0; p < 4; p++) {
            Process process = processes.get(p);
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            int status = process.waitFor();
            Check.that(status == 0 && output.equals("outcome answered=" + EVENTS + " out_of_order=0 wrong=0"),
                    "4 processes x 1 thread: process " + p + " exactly once", "exit " + status + ": " + output);
        }
        Check.finish();
    }

    /**
     * This class again in a new JVM, with this JVM's module path (or class
     * path alone), native access and library (MUSE_LIBRARY is inherited).
     */
    private static Process child(String dir, int worker) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null) {
            command.addAll(List.of("--enable-native-access=dev.muse,ALL-UNNAMED", "--module-path", modulePath,
                    "--add-modules", "dev.muse"));
        } else {
            command.add("--enable-native-access=ALL-UNNAMED");
        }
        String library = System.getProperty("muse.library");
        if (library != null) command.add("-Dmuse.library=" + library);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ExactlyOnceTest.class.getName(),
                "--child", dir, Integer.toString(worker), Integer.toString(EVENTS)));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }
}
