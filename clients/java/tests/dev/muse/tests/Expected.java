package dev.muse.tests;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

/**
 * The score mused's built-in generation gives, bit for bit: logistic
 * regression with unit coefficients, features summed left to right, a NaN
 * (missing) feature imputed as 0, then 1 / (1 + exp(-margin)) with glibc's
 * exp. glibc's, called through the FFM API, because Math.exp and
 * StrictMath.exp may differ from it in the last bit.
 */
final class Expected {
    private static final MethodHandle EXP = Linker.nativeLinker().downcallHandle(
            SymbolLookup.libraryLookup("libm.so.6", Arena.global()).find("exp").orElseThrow(),
            FunctionDescriptor.of(JAVA_DOUBLE, JAVA_DOUBLE));

    private Expected() {}

    static double score(double[] features) {
        double margin = 0;
        for (double value : features) if (!Double.isNaN(value)) margin += value;
        try {
            return 1 / (1 + (double) EXP.invokeExact(-margin));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Equal as bits: the check is exact, not within a tolerance. */
    static boolean same(double a, double b) {
        return Double.doubleToRawLongBits(a) == Double.doubleToRawLongBits(b);
    }
}
