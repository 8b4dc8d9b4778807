import MuseScoring

extension ShadowRecord {
    /// The record a predictor's shadowed level-1 scores, summarised by
    /// `sketch`, would have had through `map`: how its transformed scores
    /// fall into the reference deciles between `edges`. What the gate judges
    /// when the shadow served no map of its own for the tenant (a candidate
    /// added by `musectl candidate add`) and the candidate generation brings
    /// one (`musectl promote`'s, rolled out to another host): the shadow's
    /// tally holds its raw probabilities, which say nothing about the map.
    ///
    /// The map never decreases, so the events in decile k are those whose
    /// level-1 score lies between the scores the map sends to edges k−1 and
    /// k; the sketch's `cdf` counts them (interpolated within its bins).
    init(sketch: ScoreSketch, through map: QuantileMap, edges: [Double]) {
        self.init()
        let n = sketch.count
        guard n > 0 else { return }
        var cumulative = [UInt64](repeating: 0, count: 11)
        for (k, edge) in edges.prefix(9).enumerated() {
            let x = Self.smallestScore(mappedTo: edge, by: map)
            cumulative[k + 1] = min(n, UInt64((sketch.cdf(x.below) * Double(n)).rounded()))
        }
        for k in (min(edges.count, 9) + 1)..<11 { cumulative[k] = cumulative[k - 1] }
        cumulative[10] = n
        count = n
        for k in 0..<10 { deciles[k] = cumulative[k + 1] &- min(cumulative[k], cumulative[k + 1]) }
        // The mean from 200 evenly spaced quantiles: shown, not judged.
        var total = 0.0
        for j in 0..<200 { total += map.apply(sketch.quantile((Double(j) + 0.5) / 200) ?? 0) }
        sum = total / 200 * Double(n)
    }

    /// The smallest level-1 score in [0, 1] the map sends to `edge` or
    /// above, by bisection; `below` is just under it (what the decile below holds).
    static func smallestScore(mappedTo edge: Double, by map: QuantileMap) -> (at: Double, below: Double) {
        var lo = 0.0, hi = 1.0
        if map.apply(lo) >= edge { return (0, 0) }
        if map.apply(hi) < edge { return (1, 1) }
        for _ in 0..<64 {
            let mid = (lo + hi) / 2
            if mid <= lo || mid >= hi { break }
            if map.apply(mid) >= edge { hi = mid } else { lo = mid }
        }
        return (hi, lo)
    }
}
