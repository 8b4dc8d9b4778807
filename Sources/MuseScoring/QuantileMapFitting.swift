/// Fitting a quantile map from a sample of one tenant's (posterior-corrected)
/// scores.
///
/// The tenant's distribution is read as a continuous CDF through its distinct
/// sample values: the value at sorted positions `first...last` (a run of ties)
/// gets the mid-position `(first + last) / 2 / (n − 1)`, except that the
/// smallest value gets 0 and the largest 1, so the map is exact at the ends.
/// A model that outputs a few discrete values thus sends each one to the
/// reference quantile of its mid-rank, and a tie never straddles a knot.
///
/// With `m` distinct values and `k` knots: if `m ≤ k`, every distinct value is
/// a knot (the table is exact at each); otherwise knots sit at the `k` evenly
/// spaced levels `u_j = j / (k − 1)`, at `x_j = F_tenant⁻¹(u_j)`,
/// `y_j = F_ref⁻¹(u_j)`. Between two knots both `F_tenant(s)` and
/// `F_ref(map(s))` lie in `[u_j, u_{j+1}]`, so they differ by at most
/// `1 / (k − 1)`; hence the Kolmogorov–Smirnov distance between the mapped
/// sample and the reference is at most `1/(k − 1)` plus the `≈ 1/n` gap between
/// the empirical CDF and its interpolation (plus half the largest tie's mass).
public struct QuantileMapFitter: Sendable {
    public var reference: ReferenceDistribution
    public var knots: Int

    /// Knots default to 1001: level steps of 0.1%, 16 KB per map.
    public static let defaultKnots = 1001

    /// Most knots a map may have: what a map file may declare (so every
    /// fitted map can be written and read back), 16 MB per map.
    public static let maxKnots = 1_000_000

    public init(reference: ReferenceDistribution, knots: Int = QuantileMapFitter.defaultKnots) throws(ScoreMapError) {
        guard knots >= 2 && knots <= Self.maxKnots else {
            throw .invalidParameter("a map needs 2 to \(Self.maxKnots) knots, got \(knots)")
        }
        self.reference = reference
        self.knots = knots
    }

    public func fit(_ sample: [Double]) throws(ScoreMapError) -> QuantileMap {
        guard !sample.isEmpty else { throw .emptySample }
        if let i = sample.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteScore(index: i, value: sample[i])
        }
        let sorted = sample.sorted()
        let n = sorted.count
        guard sorted[0] < sorted[n - 1] else { throw .degenerateSample(value: sorted[0], count: n) }

        // Distinct values and their mid-positions.
        var values = [Double](), levels = [Double]()
        var first = 0
        while first < n {
            var last = first
            while last + 1 < n && sorted[last + 1] == sorted[first] { last += 1 }
            values.append(sorted[first])
            levels.append(Double(first + last) / 2 / Double(n - 1))
            first = last + 1
        }
        levels[0] = 0
        levels[levels.count - 1] = 1

        var xs = [Double](), us = [Double]()
        if values.count <= knots {
            xs = values
            us = levels
        } else {
            xs.reserveCapacity(knots)
            us.reserveCapacity(knots)
            var seg = 0
            for j in 0..<knots {
                let u = j == knots - 1 ? 1 : Double(j) / Double(knots - 1)
                while seg < values.count - 2 && levels[seg + 1] < u { seg += 1 }
                let f = (u - levels[seg]) / (levels[seg + 1] - levels[seg])
                var x = values[seg] + f * (values[seg + 1] - values[seg])
                x = min(max(x, values[seg]), values[seg + 1])
                if j == knots - 1 { x = values[values.count - 1] }
                if let prev = xs.last, x <= prev {
                    // Rounding collapsed two knots: keep the later one at the end.
                    if j == knots - 1 { xs[xs.count - 1] = x; us[us.count - 1] = u }
                    continue
                }
                xs.append(x)
                us.append(u)
            }
        }
        return try QuantileMap(scores: xs, references: us.map(reference.quantile))
    }
}

extension QuantileMapFitter {
    /// A map fitted from a sketch of the tenant's scores rather than the
    /// scores themselves: knots at the same evenly spaced levels as the
    /// sample fit, at the sketch's quantiles (linear inside a bin). The ends
    /// keep the sample fit's convention — level 0 at the smallest score, 1 at
    /// the largest — with the sketch's outer bin edges standing for those
    /// scores (a score beyond them is clamped by the map, as beyond any fit).
    /// Events that share a bin are spread across it, so a model with a few
    /// discrete outputs is better fitted from the sample.
    public func fit(_ sketch: ScoreSketch) throws(ScoreMapError) -> QuantileMap {
        let cumulative = ScoreSketch.Cumulative(sketch)
        guard cumulative.total > 0 else { throw .emptySample }
        var xs = [Double](), us = [Double]()
        xs.reserveCapacity(knots)
        us.reserveCapacity(knots)
        for j in 0..<knots {
            let u = j == knots - 1 ? 1 : Double(j) / Double(knots - 1)
            let x = cumulative.quantile(u)
            if let prev = xs.last, x <= prev {
                // An empty stretch or rounding collapsed two knots: keep the later one at the end.
                if j == knots - 1 { xs[xs.count - 1] = x; us[us.count - 1] = u }
                continue
            }
            xs.append(x)
            us.append(u)
        }
        // Every event in one bin still spans that bin's edges, so two knots remain.
        return try QuantileMap(scores: xs, references: us.map(reference.quantile))
    }
}
