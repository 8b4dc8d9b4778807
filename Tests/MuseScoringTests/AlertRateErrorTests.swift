import Foundation
import MuseScoring
import Testing

/// The promotion gate's figure: the sampling error of an alert rate.
@Suite struct AlertRateErrorTests {
    @Test func theExpectedRateIsTheReferenceTailAboveTheThreshold() throws {
        #expect(abs(AlertRateError.expectedRate(threshold: 0.95, reference: .uniform) - 0.05) < 1e-15)
        let beta = try ReferenceDistribution.beta(2, 5)
        // Beta(2, 5): 1 − F(x) = (1 − x)^6 + 6x(1 − x)^5, 7/64 at 0.5.
        #expect(abs(AlertRateError.expectedRate(threshold: 0.5, reference: beta) - 7.0 / 64) < 1e-12)
    }

    @Test func theRelativeErrorIsTheBinomialStandardDeviationOverTheRate() {
        // p = 5%, n = 1900: sqrt(0.05 · 0.95 / 1900) / 0.05 = 0.1.
        #expect(abs(AlertRateError.relative(rate: 0.05, events: 1900) - 0.1) < 1e-12)
        #expect(abs(AlertRateError.relative(rate: 0.01, events: 9900) - 0.1) < 1e-12)
        #expect(AlertRateError.relative(rate: 0.05, events: 0) == .infinity)
        #expect(AlertRateError.relative(rate: 0, events: 1000) == .infinity)
    }

    @Test func theEventsNeededAreTheFewestWithinTheBound() {
        for (p, e) in [(0.05, 0.1), (0.01, 0.1), (0.2, 0.05), (0.001, 0.3)] {
            let n = AlertRateError.eventsNeeded(rate: p, relativeError: e)
            #expect(AlertRateError.relative(rate: p, events: n) <= e * (1 + 1e-12), "p \(p) e \(e) n \(n)")
            #expect(AlertRateError.relative(rate: p, events: n - 2) > e, "p \(p) e \(e) n \(n)")
        }
    }

    /// The figure is what it claims: the alert rates of maps fitted on n
    /// events scatter around p with the stated standard deviation.
    @Test func fittedMapsScatterAsStated() throws {
        let fitter = try QuantileMapFitter(reference: .uniform, knots: 201)
        let n = 2000, p = 0.05, trials = 200
        var rng = SplitMix64(seed: 7)
        var rates = [Double]()
        for _ in 0..<trials {
            let sample = (0..<n).map { _ in rng.uniform() }
            let map = try fitter.fit(sample)
            // The true rate of fresh uniform scores above the fitted threshold: the score where the map reaches 0.95.
            var lo = 0.0, hi = 1.0
            for _ in 0..<60 { let mid = (lo + hi) / 2; if map.apply(mid) >= 1 - p { hi = mid } else { lo = mid } }
            rates.append(1 - hi)
        }
        let mean = rates.reduce(0, +) / Double(trials)
        let sd = (rates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(trials - 1)).squareRoot()
        let stated = AlertRateError.relative(rate: p, events: UInt64(n)) * p
        // 200 trials: the sample sd is within ±15% of the true one with near certainty (its own sd is about 5%).
        #expect(abs(mean - p) < 3 * stated / Double(trials).squareRoot() + 0.002, "mean \(mean)")
        #expect(sd > stated * 0.8 && sd < stated * 1.2, "sd \(sd), stated \(stated)")
    }
}
