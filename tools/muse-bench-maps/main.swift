// Cost per event of the two score maps: posterior correction (level 1) then
// a quantile map (level 2), on random scores, best of several passes.
// Run: swift run -c release muse-bench-maps
import Foundation
import MuseScoring

struct Scores {
    var state: UInt64 = 0x5EED
    mutating func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    /// Fraud-like scores: a logistic of a (Box–Muller) normal.
    mutating func next() -> Double {
        let z = (-2 * log(max(uniform(), 1e-300))).squareRoot() * cos(2 * .pi * uniform())
        return 1 / (1 + exp(-(1.7 * z - 3)))
    }
}
var scores = Scores()

let correction = try PosteriorCorrection(negativeSamplingRate: 0.1)
let sample = (0..<100_000).map { _ in correction.apply(scores.next()) }
let events = (0..<1_000_000).map { _ in scores.next() }

/// Best ns/event over 15 passes of `body` over all events.
func measure(_ label: String, _ body: (Double) -> Double) {
    var best = Double.infinity, checksum = 0.0
    for _ in 0..<15 {
        let start = ContinuousClock.now
        var sum = 0.0
        for s in events { sum += body(s) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        best = min(best, seconds * 1e9 / Double(events.count))
        checksum = sum
    }
    print(label.padding(toLength: 48, withPad: " ", startingAt: 0) + String(format: " %6.1f ns/event  (checksum %.3f)", best, checksum))
}

print("muse-bench-maps: \(events.count) random scores per pass, best of 15 passes")
measure("baseline (sum the scores)") { $0 }
measure("posterior correction only") { correction.apply($0) }
for knots in [257, 1001, 4097] {
    let map = try QuantileMapFitter(reference: try .beta(2, 5), knots: knots).fit(sample)
    measure("quantile map only, \(knots) knots") { map.apply($0) }
    measure("posterior correction + quantile map, \(knots) knots") { map.apply(correction.apply($0)) }
}
