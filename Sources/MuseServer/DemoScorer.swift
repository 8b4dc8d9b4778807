#if canImport(Glibc)
import Glibc
#endif
import CMuse
import MuseIPC

/// The scorer mused uses until model generations are loaded: the logistic of
/// the features' sum. It lets clients and tests check every answer exactly.
public struct DemoScorer: EventScorer {
    public static let intents = [
        IntentDescriptor(name: "card-not-present", id: 1, featureNames: (0..<16).map { "f\($0)" }),
        IntentDescriptor(name: "card-present", id: 2, featureNames: (0..<8).map { "f\($0)" }),
    ]

    public init() {}

    @inline(__always)
    public mutating func score(tenant: Int, intentID: UInt32, features: UnsafeBufferPointer<Double>) -> Verdict {
        var margin = 0.0
        for x in features { margin += x }
        let probability = 1 / (1 + exp(-margin))
        return Verdict(status: Int32(MUSE_OK.rawValue), score: probability, rawScore: probability,
                       predictorID: intentID, generationID: 0)
    }
}
