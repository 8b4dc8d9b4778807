#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The regularized incomplete beta function I_x(a, b) and its inverse, which
/// a beta reference distribution needs for its CDF and quantile function.
/// Written here rather than imported: MuseScoring depends on nothing, and only
/// fitting (cold path) calls these.
enum IncompleteBeta {
    /// ln B(a, b).
    static func logBeta(_ a: Double, _ b: Double) -> Double {
        lgamma(a) + lgamma(b) - lgamma(a + b)
    }

    /// I_x(a, b) for a, b > 0: the beta(a, b) CDF at x.
    static func regularized(_ x: Double, _ a: Double, _ b: Double) -> Double {
        regularized(x, a, b, logBeta: logBeta(a, b))
    }

    static func regularized(_ x: Double, _ a: Double, _ b: Double, logBeta lnB: Double) -> Double {
        if x.isNaN { return x }
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let front = exp(a * log(x) + b * log1p(-x) - lnB)
        // The continued fraction converges fast below the mean-ish point;
        // above it, use the symmetry I_x(a, b) = 1 − I_{1−x}(b, a).
        if x < (a + 1) / (a + b + 2) {
            return front * continuedFraction(x, a, b) / a
        }
        return 1 - front * continuedFraction(1 - x, b, a) / b
    }

    /// The continued fraction of I_x(a, b), by the modified Lentz method.
    private static func continuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300, eps = 1e-16
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        var m = 1.0
        while m < 100_000 {
            let m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < eps { break }
            m += 1
        }
        return h
    }

    /// The x with I_x(a, b) = p: the beta(a, b) quantile function.
    static func inverse(_ p: Double, _ a: Double, _ b: Double) -> Double {
        if p.isNaN { return p }
        if p <= 0 { return 0 }
        if p >= 1 { return 1 }
        // Solve in whichever tail p is in, so the target is never 1 − tiny
        // (which would lose digits): I_x(a, b) = p ⇔ I_{1−x}(b, a) = 1 − p.
        if p > 0.5 { return 1 - lowerInverse(1 - p, b, a) }
        return lowerInverse(p, a, b)
    }

    /// Halley steps from the Numerical Recipes starting guess, each kept
    /// inside a bisection bracket so that a bad step cannot escape (0, 1).
    private static func lowerInverse(_ p: Double, _ a: Double, _ b: Double) -> Double {
        let lnB = logBeta(a, b)
        var x: Double
        if a >= 1 && b >= 1 {
            let t = (-2 * log(p)).squareRoot()
            let z = -((2.30753 + t * 0.27061) / (1 + t * (0.99229 + t * 0.04481)) - t)
            let al = (z * z - 3) / 6
            let h = 2 / (1 / (2 * a - 1) + 1 / (2 * b - 1))
            let w = z * (al + h).squareRoot() / h
                - (1 / (2 * b - 1) - 1 / (2 * a - 1)) * (al + 5.0 / 6 - 2 / (3 * h))
            x = a / (a + b * exp(2 * w))
        } else {
            let t = exp(a * log(a / (a + b))) / a
            let u = exp(b * log(b / (a + b))) / b
            let w = t + u
            x = p < t / w ? pow(a * w * p, 1 / a) : 1 - pow(b * w * (1 - p), 1 / b)
        }
        var lo = 0.0, hi = 1.0
        if !(x > lo && x < hi) { x = 0.5 }
        for _ in 0..<400 {
            let f = regularized(x, a, b, logBeta: lnB) - p
            if f == 0 { return x }
            if f < 0 { lo = x } else { hi = x }
            let logPdf = (a - 1) * log(x) + (b - 1) * log1p(-x) - lnB
            let step = f / exp(logPdf)
            // Halley's correction, damped as in Numerical Recipes.
            let curvature = (a - 1) / x - (b - 1) / (1 - x)
            var next = x - step / (1 - 0.5 * min(1, step * curvature))
            if !(next > lo && next < hi) { next = lo + (hi - lo) / 2 }
            if abs(next - x) <= 1e-15 * next || next == lo || next == hi { return next }
            x = next
        }
        return x
    }
}
