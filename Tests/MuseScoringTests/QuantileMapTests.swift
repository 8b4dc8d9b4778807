import Testing
import Foundation
@testable import MuseScoring

@Suite("Quantile maps (level 2)")
struct QuantileMapTests {
    /// A skewed, fraud-like score sample: a logistic of a normal.
    static func sample(_ n: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in 1 / (1 + exp(-(rng.normal() * 1.7 - 3))) }
    }

    static func references() throws -> [ReferenceDistribution] {
        [.uniform, try .beta(2, 5), try .beta(0.5, 0.5), try .empirical(sample(3000, seed: 99).map { $0 * 10 })]
    }

    @Test func monotoneForAnyInput() throws {
        var rng = SplitMix64(seed: 7)
        for reference in try Self.references() {
            let map = try QuantileMapFitter(reference: reference, knots: 101).fit(Self.sample(5000, seed: 1))
            var inputs = (0..<20000).map { _ in rng.uniform() * 1.2 - 0.1 }   // beyond both ends
            inputs += map.scores + [-.infinity, .infinity, 0, 1, -.greatestFiniteMagnitude, .leastNonzeroMagnitude]
            inputs += map.scores.map(\.nextUp) + map.scores.map(\.nextDown)  // across every knot
            inputs.sort()
            let outputs = inputs.map(map.apply)
            for i in 1..<outputs.count {
                #expect(outputs[i] >= outputs[i - 1], "\(reference.name): map(\(inputs[i])) < map(\(inputs[i - 1]))")
            }
            // Inside the fitted range, distinct scores stay distinct (ranking kept, not just not inverted).
            let inside = inputs.filter { $0 > map.scores.first! && $0 < map.scores.last! }
            var equalPairs = 0
            for i in 1..<inside.count where inside[i] - inside[i - 1] > 1e-9 && map.apply(inside[i]) == map.apply(inside[i - 1]) {
                equalPairs += 1
            }
            #expect(equalPairs == 0, "\(reference.name): \(equalPairs) distinct pairs merged")
        }
    }

    @Test func rankingAndAUCUnchanged() throws {
        var rng = SplitMix64(seed: 11)
        let scores = Self.sample(4000, seed: 2)
        let labels = scores.map { rng.uniform() < $0 }
        let map = try QuantileMapFitter(reference: try .beta(2, 5)).fit(scores)
        let mapped = scores.map(map.apply)
        let before = auc(scores: scores, labels: labels), after = auc(scores: mapped, labels: labels)
        #expect(before == after, "AUC \(before) became \(after)")
    }

    /// KS(mapped fitting sample, reference) ≤ 1/n + (m > k ? 1/(k − 1) : 0):
    /// between knots both the sample's interpolated CDF and F_ref(map) lie in
    /// one level step 1/(k − 1) (zero when every distinct value is a knot),
    /// and the empirical CDF is within 1/n of the interpolated one.
    @Test(arguments: [(50, 1001), (1000, 11), (1000, 101), (20000, 101), (20000, 1001)])
    func sendsFittingSampleToReference(n: Int, knots: Int) throws {
        let sample = Self.sample(n, seed: UInt64(n * 31 + knots))
        for reference in try Self.references() {
            let map = try QuantileMapFitter(reference: reference, knots: knots).fit(sample)
            let ks = ksDistance(sample.map(map.apply), reference.cdf)
            let bound = 1 / Double(n) + (n > knots ? 1 / Double(knots - 1) : 0) + 1e-9
            #expect(ks <= bound, "\(reference.name) n=\(n) k=\(knots): KS \(ks) > \(bound)")
            // Exact at the ends.
            #expect(map.apply(sample.min()!) == reference.quantile(0))
            #expect(map.apply(sample.max()!) == reference.quantile(1))
            #expect(map.knotCount == min(n, knots))
        }
    }

    @Test func tiesMapToTheirMidRank() throws {
        // A model emitting three discrete values.
        let sample = [Double](repeating: 0.1, count: 500) + .init(repeating: 0.3, count: 300) + .init(repeating: 0.7, count: 200)
        let reference = try ReferenceDistribution.beta(2, 5)
        let map = try QuantileMapFitter(reference: reference).fit(sample.shuffled())
        #expect(map.knotCount == 3)
        #expect(map.apply(0.1) == 0)                          // smallest value: the reference minimum
        #expect(map.apply(0.7) == 1)                          // largest: the maximum
        let midRank = Double(500 + 799) / 2 / 999             // positions 500...799 of 0...999
        #expect(abs(map.apply(0.3) - reference.quantile(midRank)) < 1e-15)

        // Heavy ties among many distinct values (more than the knots).
        var rng = SplitMix64(seed: 5)
        let mixed = [Double](repeating: 0.25, count: 4000) + (0..<6000).map { _ in rng.uniform() }
        let m = try QuantileMapFitter(reference: .uniform, knots: 51).fit(mixed)
        let tied = m.apply(0.25)
        let below = Double(mixed.filter { $0 < 0.25 }.count) / Double(mixed.count - 1)
        let above = Double(mixed.filter { $0 <= 0.25 }.count - 1) / Double(mixed.count - 1)
        #expect(tied >= below - 1.0 / 50 && tied <= above + 1.0 / 50, "tie at \(tied), CDF jumps \(below)...\(above)")
    }

    @Test func sampleSmallerThanKnots() throws {
        let sample = [0.9, 0.2, 0.5, 0.35, 0.6]
        let map = try QuantileMapFitter(reference: .uniform, knots: 1001).fit(sample)
        #expect(map.knotCount == 5)
        for (rank, s) in sample.sorted().enumerated() {
            #expect(abs(map.apply(s) - Double(rank) / 4) < 1e-15)
        }
    }

    @Test func outsideRangeAndNaN() throws {
        let reference = try ReferenceDistribution.empirical([3, 5, 9, 11])
        let map = try QuantileMapFitter(reference: reference).fit(Self.sample(1000, seed: 3))
        #expect(map.apply(-1) == 3 && map.apply(-.infinity) == 3)
        #expect(map.apply(2) == 11 && map.apply(.infinity) == 11)
        #expect(map.apply(.nan).isNaN)
    }

    @Test func badInput() throws {
        let fitter = try QuantileMapFitter(reference: .uniform)
        #expect(throws: ScoreMapError.emptySample) { try fitter.fit([]) }
        #expect(throws: ScoreMapError.nonFiniteScore(index: 1, value: .infinity)) { try fitter.fit([0.1, .infinity]) }
        #expect { try fitter.fit([0.1, .nan]) } throws: { ($0 as? ScoreMapError)?.description.contains("score #2 is nan") == true }
        #expect(throws: ScoreMapError.degenerateSample(value: 0.4, count: 3)) { try fitter.fit([0.4, 0.4, 0.4]) }
        #expect(throws: ScoreMapError.self) { try QuantileMapFitter(reference: .uniform, knots: 1) }
        // More knots than a map file may hold would fit a map that cannot be read back.
        for k in [QuantileMapFitter.maxKnots + 1, Int.max] {
            #expect { try QuantileMapFitter(reference: .uniform, knots: k) } throws: {
                ($0 as? ScoreMapError)?.description.contains("2 to 1000000 knots, got \(k)") == true
            }
        }
        _ = try QuantileMapFitter(reference: .uniform, knots: QuantileMapFitter.maxKnots)
        for (a, b) in [(-1.0, 2.0), (0, 1), (2, .nan), (.infinity, 1)] {
            #expect { try ReferenceDistribution.beta(a, b) } throws: {
                ($0 as? ScoreMapError)?.description.contains("beta reference needs finite a > 0 and b > 0") == true
            }
        }
        #expect(throws: ScoreMapError.emptySample) { try ReferenceDistribution.empirical([]) }
        #expect(throws: ScoreMapError.self) { try ReferenceDistribution.empirical([2, 2]) }
        #expect(throws: ScoreMapError.self) { try QuantileMap(scores: [0, 0.5, 0.4], references: [0, 0.5, 1]) }
        #expect(throws: ScoreMapError.self) { try QuantileMap(scores: [0, 0.4, 0.5], references: [0, 0.6, 0.5]) }
        #expect(throws: ScoreMapError.self) { try QuantileMap(scores: [0], references: [0]) }
        #expect(throws: ScoreMapError.self) { try QuantileMap(scores: [0, .leastNonzeroMagnitude * 8], references: [0, 1]) }
    }

    @Test func tenantsWithFewScoresFallBack() throws {
        let fitter = try QuantileMapFitter(reference: .uniform, knots: 101)
        let maps = try TenantMaps.fit(samples: [
            ("big", Self.sample(2000, seed: 8)),
            ("tiny", [0.1, 0.2, 0.3]),
            ("flat", [Double](repeating: 0.5, count: 500)),
        ], fitter: fitter, minimumSamples: 100)
        #expect(maps.pooledSampleCount == 2503)
        #expect(maps.entries[0].origin == .ownSample(count: 2000))
        #expect(maps.entries[0].map != maps.pooled)
        #expect(maps.entries[1].origin == .pooled(reason: "3 scores, fewer than the minimum 100"))
        #expect(maps.entries[1].map == maps.pooled)
        #expect(maps.entries[2].origin == .pooled(reason: "all 500 scores equal 0.5"))
    }
}
