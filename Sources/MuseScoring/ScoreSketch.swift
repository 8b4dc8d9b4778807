/// A bounded, exactly mergeable summary of level-1 (posterior-corrected)
/// scores: a fixed-bin histogram of the probability `p` on a symmetric log
/// scale, from which a tenant's level-2 map can be fitted
/// (`QuantileMapFitter.fit(_:)`).
///
/// Bins. `q = min(p, 1 − p)` (for `p ≥ 0.5`, `1 − p` is exact by Sterbenz's
/// lemma) is binned by its IEEE-754 exponent and top `mantissaBits` mantissa
/// bits, for `q` in `[2^-40, 0.5]`: each bin is `2^-mantissaBits` of its
/// octave wide, so its relative width in `q` is at most 1.6%, and a side bit
/// says which half of `[0, 1]` `p` is in. Below `2^-40` one extreme bin per
/// side takes the rest (`p = 0` and `p = 1` included). Bin indices increase
/// with `p`, and `bin(1 − p) = binCount − 1 − bin(p)` wherever `1 − p` is exact.
///
/// Why this structure: the index is a few integer operations on the bits (no
/// logarithm), so recording is cheap; the bins are the same on every host and
/// every worker, so merging adds counts, is exact and does not depend on the
/// order of merges; memory is fixed (`binCount` = 4,994 counters, 40 KB at 8
/// bytes each). The resolution is relative, so the tails where alert thresholds sit
/// are resolved as finely as the bulk. Rank sketches (KLL, REQ) merge only with
/// a stated error and are randomised; a reservoir is neither exact nor small.
///
/// Non-finite scores are not binned but counted apart (`nonFinite`); scores
/// below 0 or above 1 land in the extreme bins.
public struct ScoreSketch: Sendable, Equatable {
    /// Mantissa bits per octave: 64 bins an octave. Measured with
    /// `ScoreSketchAccuracyTests` (six tenant-like distributions, three seeds,
    /// 100k events): the worst alert-rate difference at the 5% and 1% targets
    /// was 0.13 sd with 6 bits and 0.29 sd with 5 (over the 0.25 sd bound:
    /// most of it is where the events fall inside the threshold's bin, which
    /// shrinks only with the bin's share of the events).
    public static let mantissaBits = 6
    /// Exponent of the smallest binned `q` (2^-40 ≈ 9.1e-13).
    public static let smallestExponent = -40
    /// Octaves binned per side: `2^-40 ... 2^-2` (q = 0.5 joins the top bin).
    public static let octaves = -2 - smallestExponent + 1
    /// Bins on one side: the extreme bin plus `octaves · 2^mantissaBits`.
    public static let binsPerSide = 1 + octaves << mantissaBits
    /// Bins in all, both sides.
    public static let binCount = 2 * binsPerSide

    /// Events per bin, `binCount` of them, by increasing `p`.
    public private(set) var counts: [UInt64]
    /// NaN and infinite scores seen (not in any bin).
    public var nonFinite: UInt64 = 0

    public init() {
        counts = [UInt64](repeating: 0, count: Self.binCount)
    }

    /// A sketch with these bin counts; nil unless there are exactly `binCount`.
    public init?(counts: [UInt64], nonFinite: UInt64 = 0) {
        guard counts.count == Self.binCount else { return nil }
        self.counts = counts
        self.nonFinite = nonFinite
    }

    /// Binned events (finite scores).
    public var count: UInt64 { counts.reduce(0, &+) }

    /// The bin of a finite `p` (NaN: an arbitrary bin; callers test first).
    @inlinable @inline(__always)
    public static func bin(_ p: Double) -> Int {
        let clamped = Swift.min(Swift.max(p, 0), 1)
        let low = clamped < 0.5
        let q = low ? clamped : 1 - clamped
        // Exponent and top mantissa bits of q, shifted so 2^-40 is 1: the
        // index within the side, 0 below 2^-40, capped at the top (q = 0.5).
        let bits = Int(truncatingIfNeeded: q.bitPattern >> UInt64(52 - mantissaBits))
        let r = Swift.min(Swift.max(bits &- biasedOrigin &+ 1, 0), binsPerSide &- 1)
        return low ? r : binCount &- 1 &- r
    }

    /// `(1023 + smallestExponent) << mantissaBits`: the shifted bits of 2^-40.
    @usableFromInline static let biasedOrigin = (1023 + smallestExponent) << mantissaBits

    /// Bin edges on the `p` scale, `binCount + 1` of them, increasing: bin
    /// `i` holds `p` in `[edges[i], edges[i + 1])` on the low side and
    /// `(edges[i], edges[i + 1]]` on the high side (`p = 0.5` opens the high side).
    public static let edges: [Double] = {
        /// The smallest q of side index r ≥ 1 (r = binsPerSide: 0.5).
        func qLow(_ r: Int) -> Double {
            r == 0 ? 0 : Double(bitPattern: UInt64(r - 1 + biasedOrigin) << UInt64(52 - mantissaBits))
        }
        var edges = [Double]()
        edges.reserveCapacity(binCount + 1)
        for r in 0..<binsPerSide { edges.append(qLow(r)) }
        for r in stride(from: binsPerSide, through: 1, by: -1) { edges.append(1 - qLow(r)) }
        edges.append(1)
        return edges
    }()

    /// Records one score.
    public mutating func add(_ p: Double) {
        if p.isFinite { counts[Self.bin(p)] &+= 1 } else { nonFinite &+= 1 }
    }

    /// Adds `other`'s counts: exact, and the same whatever the order.
    public mutating func merge(_ other: ScoreSketch) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
        nonFinite &+= other.nonFinite
    }

    /// Adds `amount` events to bin `index` (a decoder or a worker cell's read).
    public mutating func add(bin index: Int, _ amount: UInt64) {
        counts[index] &+= amount
    }

    /// The fraction of binned events at or below `p`, interpolated linearly
    /// in `p` inside a bin. 0 for an empty sketch.
    public func cdf(_ p: Double) -> Double {
        let total = count
        guard total > 0, !p.isNaN else { return 0 }
        if p < 0 { return 0 }
        if p >= 1 { return 1 }
        let i = Self.bin(p)
        var below: UInt64 = 0
        for j in 0..<i { below &+= counts[j] }
        let lo = Self.edges[i], hi = Self.edges[i + 1]
        let f = hi > lo ? Swift.min(Swift.max((p - lo) / (hi - lo), 0), 1) : 1
        return (Double(below) + f * Double(counts[i])) / Double(total)
    }

    /// The score at level `u` in `[0, 1]`, inverting `cdf` over the bins that
    /// hold events: 0 is the lower edge of the first such bin, 1 the upper
    /// edge of the last. nil for an empty sketch.
    public func quantile(_ u: Double) -> Double? {
        let cumulative = Cumulative(self)
        return cumulative.total == 0 ? nil : cumulative.quantile(u)
    }

    /// Running totals of a sketch's nonempty bins, for many quantiles at once.
    struct Cumulative {
        /// Nonempty bins in order, and the events in all bins before each.
        var bins: [Int] = []
        var before: [Double] = []
        var total: Double = 0

        init(_ sketch: ScoreSketch) {
            var sum: UInt64 = 0
            for (i, c) in sketch.counts.enumerated() where c > 0 {
                bins.append(i)
                before.append(Double(sum))
                sum &+= c
            }
            total = Double(sum)
        }

        /// `bins` not empty.
        func quantile(_ u: Double) -> Double {
            let target = Swift.min(Swift.max(u, 0), 1) * total
            // Last nonempty bin whose events begin below the target.
            var lo = 0, hi = bins.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if before[mid] < target { lo = mid } else { hi = mid - 1 }
            }
            let b = bins[lo]
            let inBin = (lo + 1 < bins.count ? before[lo + 1] : total) - before[lo]
            let f = Swift.min(Swift.max((target - before[lo]) / inBin, 0), 1)
            let left = ScoreSketch.edges[b], right = ScoreSketch.edges[b + 1]
            return Swift.min(Swift.max(left + f * (right - left), left), right)
        }
    }
}
