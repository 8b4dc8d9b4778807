@testable import MuseServer
import MuseScoring
import Testing

/// The gate's record of a shadow's sketched level-1 scores through a
/// candidate's map: what a promoted snapshot is judged on by another host.
@Suite struct ShadowRecordSketchTests {
    static func sample(_ n: Int, seed: UInt64, _ transform: (Double) -> Double) -> [Double] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in transform(rng.uniform()) }
    }

    static func sketch(_ scores: [Double]) -> ScoreSketch {
        var s = ScoreSketch()
        for x in scores { s.add(x) }
        return s
    }

    @Test func aMapFittedOnTheSameDistributionFillsEachDecileEvenly() throws {
        let skewed: (Double) -> Double = { $0 * $0 * $0 * 0.3 }
        let map = try QuantileMapFitter(reference: .uniform, knots: 201).fit(Self.sample(50_000, seed: 1, skewed))
        let edges = (1...9).map { Double($0) / 10 }
        let record = ShadowRecord(sketch: Self.sketch(Self.sample(20_000, seed: 2, skewed)), through: map, edges: edges)
        #expect(record.count == 20_000 && record.deciles.reduce(0, +) == 20_000)
        #expect(record.deciles.allSatisfy { abs(Double($0) / 20_000 - 0.1) < 0.01 }, "\(record.deciles)")
        #expect(record.psi < 0.01 && abs(record.mean - 0.5) < 0.01, "PSI \(record.psi), mean \(record.mean)")
    }

    @Test func aMapOfAnotherDistributionShowsAsAShift() throws {
        let map = try QuantileMapFitter(reference: .uniform, knots: 201).fit(Self.sample(50_000, seed: 1) { $0 * 0.3 })
        let edges = (1...9).map { Double($0) / 10 }
        // Scores twice as high: half of them beyond the map's top knot.
        let record = ShadowRecord(sketch: Self.sketch(Self.sample(20_000, seed: 2) { $0 * 0.6 }), through: map, edges: edges)
        #expect(record.deciles[9] > 10_000 && record.psi > 0.5, "\(record.deciles), PSI \(record.psi)")
        #expect(ShadowRecord(sketch: ScoreSketch(), through: map, edges: edges).count == 0)
    }
}
