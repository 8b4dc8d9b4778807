/// Level 2 of the score transformation for one (tenant, predictor): the
/// monotone piecewise-linear table approximating `s' = F_ref⁻¹(F_tenant(s))`.
///
/// Applying it is the per-event hot path, so the knots are flat arrays, the
/// segment is found by a branch-free binary search, and nothing allocates.
///
/// Behaviour at the edges:
/// - a score at or below the first knot maps to the first reference value
///   (the reference minimum for a fitted map), at or above the last knot to
///   the last: scores outside the fitted range are clamped, never extrapolated;
/// - NaN maps to NaN (the caller reports it; a map cannot place it);
/// - the map is non-decreasing everywhere, including across knots under
///   floating-point rounding (each segment's value is capped at its right
///   knot), and strictly increasing inside the fitted range when the
///   reference values are, so ranking (and AUC) is the model's.
public struct QuantileMap: Sendable, Equatable {
    /// Knot positions on the score scale, strictly increasing.
    public let scores: [Double]
    /// Knot values on the reference scale, non-decreasing.
    public let references: [Double]
    /// Slope of each segment (count − 1 of them), precomputed so applying
    /// multiplies instead of divides.
    @usableFromInline let slopes: [Double]

    /// A map through the given knots; throws unless it is a finite,
    /// monotone table of at least two knots.
    public init(scores: [Double], references: [Double]) throws(ScoreMapError) {
        guard scores.count == references.count else {
            throw .invalidKnots("\(scores.count) knot scores but \(references.count) reference values")
        }
        guard scores.count >= 2 else { throw .invalidKnots("a map needs at least 2 knots, got \(scores.count)") }
        var slopes = [Double]()
        slopes.reserveCapacity(scores.count - 1)
        for i in scores.indices {
            guard scores[i].isFinite, references[i].isFinite else {
                throw .invalidKnots("knot \(i + 1) (\(scores[i]), \(references[i])) is not finite")
            }
            guard i > 0 else { continue }
            guard scores[i] > scores[i - 1] else {
                throw .invalidKnots(
                    "knot \(i + 1): score \(scores[i]) is not greater than knot \(i)'s \(scores[i - 1]); knot scores must strictly increase")
            }
            guard references[i] >= references[i - 1] else {
                throw .invalidKnots(
                    "knot \(i + 1): reference value \(references[i]) is below knot \(i)'s \(references[i - 1]); the map must be monotone")
            }
            let slope = (references[i] - references[i - 1]) / (scores[i] - scores[i - 1])
            guard slope.isFinite else {
                throw .invalidKnots("knots \(i) and \(i + 1) are too close together: segment slope overflows")
            }
            slopes.append(slope)
        }
        self.scores = scores
        self.references = references
        self.slopes = slopes
    }

    public var knotCount: Int { scores.count }

    /// The reference-scale score for `score`.
    @inlinable
    public func apply(_ score: Double) -> Double {
        scores.withUnsafeBufferPointer { x in
            references.withUnsafeBufferPointer { y in
                slopes.withUnsafeBufferPointer { m in
                    Self.apply(score, x, y, m)
                }
            }
        }
    }

    @inlinable @inline(__always)
    static func apply(
        _ s: Double, _ x: UnsafeBufferPointer<Double>, _ y: UnsafeBufferPointer<Double>,
        _ m: UnsafeBufferPointer<Double>
    ) -> Double {
        let last = x.count - 1
        guard s > x[0] else { return s.isNaN ? s : y[0] }
        guard s < x[last] else { return y[last] }
        // Largest i with x[i] <= s, in [0, last − 1]; halving with a
        // conditional move rather than a branch on each probe.
        var base = 0
        var len = x.count
        while len > 1 {
            let half = len >> 1
            base = x[base + half] <= s ? base + half : base
            len -= half
        }
        return min(y[base] + (s - x[base]) * m[base], y[base + 1])
    }
}
