import Testing
import Foundation
@testable import MuseScoring

/// The criterion a sketch must meet to stand in for the raw scores when a
/// tenant's level-2 map is fitted: the alert rate it adds at the 5% and 1%
/// targets is a small fraction of the sampling error of the events it
/// summarises.
///
/// Derivation. A map fitted on `n` events places the threshold for target
/// `α` at their empirical `1 − α` quantile; the alert rate it gives on the
/// population is then off by the sampling error of that quantile, whose
/// standard deviation in rate is `sd = sqrt(α(1 − α)/n)` (the count of events
/// above a fixed quantile is binomial). A sketch-fitted map moves that
/// threshold inside the bin holding it; the rate it moves is the share of the
/// same `n` events between the two thresholds, measured here directly: both
/// maps applied to the same events, alert rates compared. The test asks that
/// difference to be at most `0.25 sd` for every distribution and seed, so
/// the sketch's error adds at most `√(1 + 0.25²) − 1 ≈ 3%` to the error the
/// fit already has.
@Suite("Score sketches: the alert-rate criterion")
struct ScoreSketchAccuracyTests {
    /// Tenant-like level-1 distributions: (name, beta mixture).
    static let tenants: [(String, [(Double, Double, Double)])] = [
        ("mostly legitimate + 4% fraud", [(0.96, 1.2, 14), (0.04, 6, 1.5)]),
        ("calibrated rare-event model", [(0.995, 0.6, 40), (0.005, 3, 1)]),
        ("scores piled near 0", [(1.0, 0.3, 30)]),
        ("scores piled near 1", [(1.0, 25, 0.4)]),
        ("bimodal", [(0.5, 2, 20), (0.5, 20, 2)]),
        ("broad", [(1.0, 1, 1)]),
    ]
    static let n = 100_000
    static let targets = [0.05, 0.01]

    /// The alert rate of `map` on `scores` at reference threshold `t`.
    static func alertRate(_ map: QuantileMap, _ scores: [Double], _ t: Double) -> Double {
        Double(scores.reduce(0) { $0 + (map.apply($1) >= t ? 1 : 0) }) / Double(scores.count)
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func sketchFittedAlertRatesMatchRawFittedOnes(seed: UInt64) throws {
        let reference = try ReferenceDistribution.beta(2, 5)
        let fitter = try QuantileMapFitter(reference: reference)
        var worst = 0.0
        for (k, (name, parts)) in Self.tenants.enumerated() {
            var draws = ScoreDraws(seed: seed &* 1000 &+ UInt64(k))
            let scores = (0..<Self.n).map { _ in draws.mixture(parts) }
            var sketch = ScoreSketch()
            for s in scores { sketch.add(s) }
            let raw = try fitter.fit(scores)
            let sketched = try fitter.fit(sketch)
            for alpha in Self.targets {
                let t = reference.quantile(1 - alpha)
                let sd = (alpha * (1 - alpha) / Double(Self.n)).squareRoot()
                let difference = abs(Self.alertRate(sketched, scores, t) - Self.alertRate(raw, scores, t))
                worst = max(worst, difference / sd)
                #expect(difference <= 0.25 * sd,
                        "\(name), seed \(seed), target \(alpha): alert rates differ by \(difference) = \(difference / sd) sd")
            }
        }
        print("score sketch: worst alert-rate difference, seed \(seed): \(worst) sd")
    }
}
