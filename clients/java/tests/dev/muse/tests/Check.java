package dev.muse.tests;

import dev.muse.MuseException;
import dev.muse.Status;

/**
 * The test programs' assertions, without JUnit (none offline): each check
 * prints "PASS <what>" or "FAIL <what>: <why>"; {@link #finish} exits 1 if
 * any failed. clients/java/test.sh also counts the PASS lines, so a check
 * that silently stopped running fails the run too.
 */
final class Check {
    private static int failures;

    private Check() {}

    static synchronized void that(boolean condition, String what, Object why) {
        if (condition) {
            System.out.println("PASS " + what);
        } else {
            failures++;
            System.out.println("FAIL " + what + ": " + why);
        }
    }

    static void that(boolean condition, String what) {
        that(condition, what, "false");
    }

    /** Runs {@code action}, which must not throw. */
    static void runs(Runnable action, String what) {
        try {
            action.run();
            that(true, what);
        } catch (RuntimeException e) {
            that(false, what, e);
        }
    }

    /** Runs {@code action}, which must throw MuseException with {@code status}. */
    static void throwsMuse(Status status, Runnable action, String what) {
        try {
            action.run();
            that(false, what, "no exception");
        } catch (MuseException e) {
            that(e.status() == status, what, "status " + e.status() + " (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            that(false, what, e);
        }
    }

    /** Runs {@code action}, which must throw an exception of {@code type}. */
    static void throwsType(Class<? extends Throwable> type, Runnable action, String what) {
        try {
            action.run();
            that(false, what, "no exception");
        } catch (RuntimeException e) {
            that(type.isInstance(e), what, e);
        }
    }

    /** Exits the program: 0 if every check passed. */
    static void finish() {
        System.out.flush();
        System.exit(failures == 0 ? 0 : 1);
    }
}
