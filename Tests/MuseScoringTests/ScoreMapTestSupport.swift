import Foundation
@testable import MuseScoring

/// A stand-in for the real models: a logistic function of a weighted
/// sum. A class, so tests can check that tenants share one instance.
final class WeightedLogistic: ScoringModel, @unchecked Sendable {
    let featureNames: [String]
    let weights: [Double]
    let bias: Double

    init(weights: [Double], bias: Double = 0) {
        self.weights = weights
        self.bias = bias
        featureNames = weights.indices.map { "f\($0)" }
    }

    func margin(_ features: UnsafeBufferPointer<Double>) -> Double {
        var s = bias
        for i in weights.indices { s += weights[i] * features[i] }
        return s
    }

    func probability(_ features: UnsafeBufferPointer<Double>) -> Double { 1 / (1 + exp(-margin(features))) }
}

enum ScoreMapFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures/score-maps")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }
}

/// Kolmogorov–Smirnov distance between a sample and a continuous CDF.
func ksDistance(_ sample: [Double], _ cdf: (Double) -> Double) -> Double {
    let s = sample.sorted()
    let n = Double(s.count)
    var d = 0.0
    var i = 0
    while i < s.count {
        var j = i
        while j + 1 < s.count && s[j + 1] == s[i] { j += 1 }
        let f = cdf(s[i])
        d = max(d, abs(Double(j + 1) / n - f), abs(f - Double(i) / n))
        i = j + 1
    }
    return d
}

/// Area under the ROC curve, ties counted half (Mann–Whitney).
func auc(scores: [Double], labels: [Bool]) -> Double {
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var rankSumPositive = 0.0
    var i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
        let midRank = Double(i + j) / 2 + 1
        for k in i...j where labels[order[k]] { rankSumPositive += midRank }
        i = j + 1
    }
    let pos = Double(labels.filter { $0 }.count), neg = Double(labels.count) - pos
    return (rankSumPositive - pos * (pos + 1) / 2) / (pos * neg)
}
