import Testing
import Foundation
@testable import MuseScoring

/// Draws for tenant-like level-1 score distributions.
struct ScoreDraws {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// Gamma(shape, 1) by Marsaglia and Tsang (shape < 1 through shape + 1).
    mutating func gamma(_ shape: Double) -> Double {
        if shape < 1 { return gamma(shape + 1) * pow(max(rng.uniform(), 1e-300), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x = 0.0, v = 0.0
            repeat { x = rng.normal(); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = rng.uniform()
            if log(max(u, 1e-300)) < 0.5 * x * x + d - d * v + d * log(v) { return d * v }
        }
    }

    mutating func beta(_ a: Double, _ b: Double) -> Double {
        let x = gamma(a), y = gamma(b)
        return x / (x + y)
    }

    /// A mixture of betas: (weight, a, b).
    mutating func mixture(_ parts: [(Double, Double, Double)]) -> Double {
        var u = rng.uniform()
        for (w, a, b) in parts {
            if u < w { return beta(a, b) }
            u -= w
        }
        let last = parts[parts.count - 1]
        return beta(last.1, last.2)
    }
}

@Suite("Score sketches: bins, merge, CDF and quantiles")
struct ScoreSketchTests {
    @Test func layoutIsFixedAndSmall() {
        #expect(ScoreSketch.octaves == 39)
        #expect(ScoreSketch.binCount == 2 * (1 + 39 * 64))
        #expect(ScoreSketch.edges.count == ScoreSketch.binCount + 1)
        #expect(ScoreSketch.edges.first == 0 && ScoreSketch.edges.last == 1)
        #expect(ScoreSketch.edges[ScoreSketch.binsPerSide] == 0.5)
        #expect(ScoreSketch.edges[1] == 0x1p-40)
        for i in 1..<ScoreSketch.edges.count {
            #expect(ScoreSketch.edges[i] > ScoreSketch.edges[i - 1], "edge \(i) does not increase")
        }
    }

    @Test func everyFiniteScoreLandsInRangeAndInsideItsBin() {
        var rng = SplitMix64(seed: 3)
        var inputs: [Double] = [0, 1, 0.5, 0.5.nextDown, 0.5.nextUp, 1.0.nextDown, .leastNonzeroMagnitude,
                                0x1p-40, 0x1p-40.nextDown, 1 - 0x1p-40, -1, 2, -.greatestFiniteMagnitude,
                                .greatestFiniteMagnitude, 0.25, 0.75]
        inputs += (0..<50_000).map { _ in rng.uniform() }
        inputs += (0..<50_000).map { _ in pow(2, -60 * rng.uniform()) }
        inputs += (0..<50_000).map { _ in 1 - pow(2, -45 * rng.uniform()) }
        for p in inputs {
            let b = ScoreSketch.bin(p)
            #expect(b >= 0 && b < ScoreSketch.binCount, "p = \(p): bin \(b)")
            let c = min(max(p, 0), 1)
            let lo = ScoreSketch.edges[b], hi = ScoreSketch.edges[b + 1]
            let inside = c < 0.5 ? (c >= lo && c < hi) : (c > lo && c <= hi) || (c == 0.5 && lo == 0.5)
            #expect(inside, "p = \(p) in bin \(b) = [\(lo), \(hi)]")
        }
    }

    @Test func binsAreMonotoneInP() {
        var rng = SplitMix64(seed: 5)
        var ps = (0..<100_000).map { _ in rng.uniform() } + (0..<20_000).map { _ in pow(2, -50 * rng.uniform()) }
        ps += ScoreSketch.edges + ScoreSketch.edges.map(\.nextUp) + ScoreSketch.edges.map(\.nextDown)
        ps = ps.filter { $0 >= 0 && $0 <= 1 }.sorted()
        for i in 1..<ps.count {
            #expect(ScoreSketch.bin(ps[i]) >= ScoreSketch.bin(ps[i - 1]), "bin(\(ps[i])) < bin(\(ps[i - 1]))")
        }
        // Relative resolution: inside the binned range no bin is wider than 2^-6 of its q.
        for r in 2..<ScoreSketch.binsPerSide {
            let lo = ScoreSketch.edges[r], hi = ScoreSketch.edges[r + 1]
            #expect((hi - lo) / lo <= 1.0 / 64 + 1e-12)
        }
    }

    @Test func binsAreSymmetric() {
        // Dyadic q with few bits: 1 − q is exact, so the mirror is exact.
        var rng = SplitMix64(seed: 9)
        for _ in 0..<20_000 {
            let q = Double(rng.next() >> 44) * pow(2, -Double(20 + rng.next() % 30))
            guard q <= 0.5 else { continue }
            #expect(ScoreSketch.bin(1 - q) == ScoreSketch.binCount - 1 - ScoreSketch.bin(q) || q == 0.5,
                    "q = \(q)")
        }
        #expect(ScoreSketch.bin(0) == 0 && ScoreSketch.bin(1) == ScoreSketch.binCount - 1)
    }

    @Test func nonFiniteScoresAreCountedApart() {
        var sketch = ScoreSketch()
        for p in [Double.nan, .infinity, -.infinity, 0.3] { sketch.add(p) }
        #expect(sketch.nonFinite == 3 && sketch.count == 1)
    }

    @Test func mergeIsExactWhateverTheSplit() {
        var draws = ScoreDraws(seed: 21)
        let scores = (0..<60_000).map { _ in draws.mixture([(0.9, 1, 12), (0.1, 6, 2)]) }
        var whole = ScoreSketch()
        for s in scores { whole.add(s) }
        var rng = SplitMix64(seed: 22)
        for parts in [2, 3, 7, 16] {
            var pieces = [ScoreSketch](repeating: ScoreSketch(), count: parts)
            for s in scores { pieces[Int(rng.next() % UInt64(parts))].add(s) }
            var forward = ScoreSketch(), backward = ScoreSketch()
            for p in pieces { forward.merge(p) }
            for p in pieces.reversed() { backward.merge(p) }
            #expect(forward == whole && backward == whole, "\(parts) pieces")
        }
        #expect(whole.count == UInt64(scores.count))
    }

    @Test func cdfAndQuantilesAreWithinABin() throws {
        var draws = ScoreDraws(seed: 31)
        let scores = (0..<50_000).map { _ in draws.mixture([(0.95, 0.8, 15), (0.05, 5, 1.5)]) }.sorted()
        var sketch = ScoreSketch()
        for s in scores { sketch.add(s) }
        let n = Double(scores.count)
        for u in stride(from: 0.01, through: 0.99, by: 0.01) {
            let exact = scores[Int(u * (n - 1))]
            let estimate = try #require(sketch.quantile(u))
            // Same bin or a neighbour: within a bin's relative width (≤ 1.6%) of the exact quantile.
            #expect(abs(ScoreSketch.bin(estimate) - ScoreSketch.bin(exact)) <= 1, "u = \(u): \(estimate) vs \(exact)")
            // The CDF error is at most the mass of the bin holding the point.
            let below = Double(scores.partitionPoint { $0 > exact }) / n
            let binMass = Double(sketch.counts[ScoreSketch.bin(exact)]) / n
            #expect(abs(sketch.cdf(exact) - below) <= binMass + 1 / n, "cdf at \(exact)")
        }
        #expect(sketch.quantile(0) == ScoreSketch.edges[ScoreSketch.bin(scores[0])])
        #expect(sketch.quantile(1) == ScoreSketch.edges[ScoreSketch.bin(scores.last!) + 1])
        #expect(ScoreSketch().quantile(0.5) == nil)
    }

    @Test func fittingAnEmptySketchIsRefused() throws {
        #expect(throws: ScoreMapError.emptySample) { try QuantileMapFitter(reference: .uniform).fit(ScoreSketch()) }
        // One event still spans its bin: a two-knot map.
        var one = ScoreSketch()
        one.add(0.3)
        let map = try QuantileMapFitter(reference: .uniform).fit(one)
        #expect(map.knotCount >= 2)
    }
}

extension Array where Element == Double {
    /// Index of the first element for which `predicate` holds (a sorted array, predicate monotone).
    func partitionPoint(_ predicate: (Double) -> Bool) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if predicate(self[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
